;; loop: never returns. Deploy it with a small `max_execution_ms` to see the time limit at
;; work: the agent interrupts the call and answers `504 Gateway Timeout`.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever
      (br $forever))))
