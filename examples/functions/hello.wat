;; hello: answers every request with "hello from the edge".
;;
;; A WAGI-style function: the edge agent invokes the `_start` export with the request on stdin
;; and in environment variables; whatever the function writes to stdout (CGI headers, a blank
;; line, then the body) is the response.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; The response, at offset 64.
  (data (i32.const 64) "Content-Type: text/plain\n\nhello from the edge\n")
  (func (export "_start")
    ;; One iovec at offset 0: { buf = 64, len = 46 }.
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 46))
    ;; fd_write(stdout, iovs = 0, iovs_len = 1, nwritten = 8)
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
