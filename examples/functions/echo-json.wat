;; echo-json: a JSON transform. Reads the request body (JSON) from stdin and answers it
;; wrapped in an object, byte for byte: `{"a": 1}` → `{"echo":{"a": 1}}` (an empty body gives
;; `{"echo":null}`). Bodies over ~2 MiB get `413 Payload Too Large`.
;;
;; Memory map: 0..16 scratch (iovec, counts), 256.. constant strings, 65536.. the response
;; body (`{"echo":`, the request body, `}`), up to the end of the 32 pages.
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 32)

  (data (i32.const 256) "Content-Type: application/json\n\n")          ;; 32
  (data (i32.const 300) "{\"echo\":")                                   ;; 8
  (data (i32.const 310) "null")                                         ;; 4
  (data (i32.const 320) "}\n")                                          ;; 2
  (data (i32.const 400) "Status: 413 Payload Too Large\nContent-Type: text/plain\n\nbody too large\n") ;; 71

  ;; Writes `len` bytes at `ptr` to stdout, however many fd_write calls it takes (iovec at 0,
  ;; bytes written at 8).
  (func $write_all (param $ptr i32) (param $len i32)
    (local $n i32)
    (block $done
      (loop $more
        (br_if $done (i32.eqz (local.get $len)))
        (i32.store (i32.const 0) (local.get $ptr))
        (i32.store (i32.const 4) (local.get $len))
        (br_if $done (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $ptr (i32.add (local.get $ptr) (local.get $n)))
        (local.set $len (i32.sub (local.get $len) (local.get $n)))
        (br $more))))

  (func $copy (param $dst i32) (param $src i32) (param $len i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (i32.store8 (i32.add (local.get $dst) (local.get $i))
                    (i32.load8_u (i32.add (local.get $src) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  (func (export "_start")
    (local $pos i32) (local $n i32)
    ;; The body starts with {"echo":
    (call $copy (i32.const 65536) (i32.const 300) (i32.const 8))
    (local.set $pos (i32.const 65544))
    ;; Read stdin until its end, keeping 16 bytes of room for the closing bytes.
    (block $eof
      (loop $read
        (br_if $eof (i32.ge_u (local.get $pos) (i32.const 2097136)))
        (i32.store (i32.const 0) (local.get $pos))
        (i32.store (i32.const 4) (i32.sub (i32.const 2097136) (local.get $pos)))
        (br_if $eof (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $pos (i32.add (local.get $pos) (local.get $n)))
        (br $read)))
    (if (i32.ge_u (local.get $pos) (i32.const 2097136))
      (then
        (call $write_all (i32.const 400) (i32.const 71))
        (return)))
    (if (i32.eq (local.get $pos) (i32.const 65544))
      (then
        (call $copy (local.get $pos) (i32.const 310) (i32.const 4))
        (local.set $pos (i32.add (local.get $pos) (i32.const 4)))))
    (call $copy (local.get $pos) (i32.const 320) (i32.const 2))
    (local.set $pos (i32.add (local.get $pos) (i32.const 2)))
    ;; The headers, then the body.
    (call $write_all (i32.const 256) (i32.const 32))
    (call $write_all (i32.const 65536) (i32.sub (local.get $pos) (i32.const 65536)))))
