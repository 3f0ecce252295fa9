;; hello v2: echoes what the agent tells a function about the request.
;;
;; WAGI convention (see edgesync-agent/README.md): the request arrives in environment
;; variables and on stdin; the response is written to stdout as CGI headers, a blank line,
;; then the body. This version answers with a greeting and the request's method, path, query,
;; route parameters (`X_PARAM_*`), the node's name and the function's version, e.g.
;;
;;   hello v2 from the edge
;;   REQUEST_METHOD=GET
;;   PATH_INFO=/hello/bob
;;   QUERY_STRING=
;;   X_PARAM_NAME=bob
;;   X_NODE_NAME=edge-1
;;   X_FUNCTION_VERSION=2
;;
;; Memory map: 0..32 scratch (iovec, counts), 512.. constant strings, 1024.. the environment's
;; pointer array, 65536.. the environment's strings, 262144.. the response.
(module
  (import "wasi_snapshot_preview1" "environ_sizes_get"
    (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get"
    (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 8)

  ;; 49 bytes: headers, blank line, greeting.
  (data (i32.const 512) "Content-Type: text/plain\n\nhello v2 from the edge\n")
  ;; The variables worth echoing, by prefix.
  (data (i32.const 600) "REQUEST_METHOD=")      ;; 15
  (data (i32.const 620) "PATH_INFO=")           ;; 10
  (data (i32.const 640) "QUERY_STRING=")        ;; 13
  (data (i32.const 660) "X_PARAM_")             ;; 8
  (data (i32.const 680) "X_NODE_NAME=")         ;; 12
  (data (i32.const 700) "X_FUNCTION_VERSION=")  ;; 19
  (data (i32.const 720) "\n")

  ;; Where the response continues.
  (global $out (mut i32) (i32.const 262144))

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

  ;; Appends `len` bytes at `src` to the response.
  (func $emit (param $src i32) (param $len i32)
    (local $i i32)
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (i32.store8 (i32.add (global.get $out) (local.get $i))
                    (i32.load8_u (i32.add (local.get $src) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (global.set $out (i32.add (global.get $out) (local.get $len))))

  ;; Length of the NUL-terminated string at `s`.
  (func $strlen (param $s i32) (result i32)
    (local $n i32)
    (block $done
      (loop $scan
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $s) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $scan)))
    (local.get $n))

  ;; Whether the string at `s` starts with the `n` bytes at `p`.
  (func $starts_with (param $s i32) (param $p i32) (param $n i32) (result i32)
    (local $i i32)
    (block $no
      (loop $cmp
        (if (i32.ge_u (local.get $i) (local.get $n)) (then (return (i32.const 1))))
        (br_if $no (i32.ne (i32.load8_u (i32.add (local.get $s) (local.get $i)))
                           (i32.load8_u (i32.add (local.get $p) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $cmp)))
    (i32.const 0))

  (func $wanted (param $s i32) (result i32)
    (i32.or
      (i32.or
        (i32.or (call $starts_with (local.get $s) (i32.const 600) (i32.const 15))
                (call $starts_with (local.get $s) (i32.const 620) (i32.const 10)))
        (i32.or (call $starts_with (local.get $s) (i32.const 640) (i32.const 13))
                (call $starts_with (local.get $s) (i32.const 660) (i32.const 8))))
      (i32.or (call $starts_with (local.get $s) (i32.const 680) (i32.const 12))
              (call $starts_with (local.get $s) (i32.const 700) (i32.const 19)))))

  (func (export "_start")
    (local $count i32) (local $size i32) (local $i i32) (local $s i32)
    (call $emit (i32.const 512) (i32.const 49))
    (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (local.set $count (i32.load (i32.const 16)))
    (local.set $size (i32.load (i32.const 20)))
    ;; Only when the environment fits the space set aside for it.
    (if (i32.and (i32.le_u (local.get $count) (i32.const 15000))
                 (i32.le_u (local.get $size) (i32.const 196608)))
      (then
        (drop (call $environ_get (i32.const 1024) (i32.const 65536)))
        (block $done
          (loop $each
            (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
            (local.set $s (i32.load (i32.add (i32.const 1024)
                                             (i32.shl (local.get $i) (i32.const 2)))))
            (if (call $wanted (local.get $s))
              (then
                (call $emit (local.get $s) (call $strlen (local.get $s)))
                (call $emit (i32.const 720) (i32.const 1))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $each)))))
    (call $write_all (i32.const 262144) (i32.sub (global.get $out) (i32.const 262144)))))
