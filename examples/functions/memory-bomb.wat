;; memory-bomb: grows its memory 16 pages (1 MiB) at a time until it is refused. Deploy it
;; with a small `memory_pages` to see the memory limit at work: the agent stops the call at
;; the limit and answers `507 Insufficient Storage`.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $grow
      (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    ;; Only reached where growth fails quietly instead of trapping.
    unreachable))
