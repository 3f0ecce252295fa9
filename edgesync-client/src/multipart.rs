//! The `multipart/form-data` body of a function upload (`metadata` JSON, then `wasm`), encoded
//! here rather than by reqwest so that its exact bytes are known: a signed request must carry
//! the SHA-256 of the whole body before it is sent. The module's bytes are streamed, not
//! buffered, except for a one-shot stream on a signing client (hashing needs a second pass).

use std::fmt;
use std::io;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::error::{ClientError, Result};

/// Largest one-shot stream a signing client buffers to hash it.
const MAX_BUFFERED_UPLOAD: u64 = 256 * 1024 * 1024;
/// Read size for files.
const CHUNK: usize = 64 * 1024;

/// The WebAssembly module of an upload: bytes in memory, a file (streamed), or a stream.
pub struct WasmBody {
    source: Source,
}

enum Source {
    Bytes(Bytes),
    File(PathBuf),
    Stream {
        stream: BoxStream<'static, io::Result<Bytes>>,
        len: Option<u64>,
    },
    /// A stream that was sent already.
    Spent,
}

impl WasmBody {
    /// A module already in memory.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        Self {
            source: Source::Bytes(bytes.into()),
        }
    }

    /// A module in a file, streamed from disk (read twice on a signing client: once to hash,
    /// once to send; and again if a retry is needed).
    pub fn from_file(path: impl Into<PathBuf>) -> Self {
        Self {
            source: Source::File(path.into()),
        }
    }

    /// A module arriving as a stream of chunks, sent as it arrives. `len` (if known) becomes
    /// part of the `Content-Length`. A stream can be sent once, so the upload is not retried.
    /// On a signing client the stream is read into memory first (at most 256 MiB), because
    /// the signature covers the body's hash; prefer [`from_file`](Self::from_file) there.
    pub fn from_stream<S, E>(stream: S, len: Option<u64>) -> Self
    where
        S: futures::Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        Self {
            source: Source::Stream {
                stream: stream.map_err(io::Error::other).boxed(),
                len,
            },
        }
    }
}

impl From<Bytes> for WasmBody {
    fn from(bytes: Bytes) -> Self {
        Self::from_bytes(bytes)
    }
}

impl From<Vec<u8>> for WasmBody {
    fn from(bytes: Vec<u8>) -> Self {
        Self::from_bytes(bytes)
    }
}

impl From<&'static [u8]> for WasmBody {
    fn from(bytes: &'static [u8]) -> Self {
        Self::from_bytes(bytes)
    }
}

impl fmt::Debug for WasmBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Bytes(b) => write!(f, "WasmBody::Bytes({} bytes)", b.len()),
            Source::File(p) => write!(f, "WasmBody::File({})", p.display()),
            Source::Stream { len, .. } => write!(f, "WasmBody::Stream(len: {len:?})"),
            Source::Spent => f.write_str("WasmBody::Spent"),
        }
    }
}

/// An upload body ready to send: content type, optional hash and length, and a way to make
/// the body once per attempt.
pub(crate) struct Upload {
    content_type: String,
    head: Bytes,
    tail: Bytes,
    source: Source,
    /// Lowercase hex SHA-256 of the whole body, when it was asked for.
    pub(crate) sha256: Option<String>,
    /// Length of the whole body, when known.
    pub(crate) len: Option<u64>,
}

impl Upload {
    /// A `multipart/form-data` body of `metadata` (JSON bytes) then the module; hashes the
    /// whole body when `hash`.
    pub(crate) async fn multipart(metadata: &[u8], wasm: WasmBody, hash: bool) -> Result<Self> {
        let boundary = format!("edgesync-{}", uuid::Uuid::new_v4().simple());
        let mut head = BytesMut::new();
        head.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\
                 Content-Type: application/json\r\n\r\n"
            )
            .as_bytes(),
        );
        head.extend_from_slice(metadata);
        head.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"wasm\"; \
                 filename=\"module.wasm\"\r\nContent-Type: application/wasm\r\n\r\n"
            )
            .as_bytes(),
        );
        let head = head.freeze();
        let tail = Bytes::from(format!("\r\n--{boundary}--\r\n"));
        let content_type = format!("multipart/form-data; boundary={boundary}");
        Self::framed(content_type, head, tail, wasm, hash).await
    }

    /// The module alone (`application/wasm`); hashes it when `hash`.
    pub(crate) async fn raw(wasm: WasmBody, hash: bool) -> Result<Self> {
        let content_type = "application/wasm".to_owned();
        Self::framed(content_type, Bytes::new(), Bytes::new(), wasm, hash).await
    }

    async fn framed(
        content_type: String,
        head: Bytes,
        tail: Bytes,
        wasm: WasmBody,
        hash: bool,
    ) -> Result<Self> {
        let framing = (head.len() + tail.len()) as u64;

        let mut source = wasm.source;
        let (module_len, sha256) = match &mut source {
            Source::Bytes(b) => (
                Some(b.len() as u64),
                hash.then(|| hash_parts(&head, &[b], &tail)),
            ),
            Source::File(path) => {
                if hash {
                    let (len, digest) = hash_file(path, &head, &tail).await?;
                    (Some(len), Some(digest))
                } else {
                    (Some(tokio::fs::metadata(&path).await?.len()), None)
                }
            }
            Source::Stream { stream, len } => {
                if hash {
                    let bytes = buffer(stream).await?;
                    let digest = hash_parts(&head, &[&bytes], &tail);
                    let len = bytes.len() as u64;
                    source = Source::Bytes(bytes);
                    (Some(len), Some(digest))
                } else {
                    (*len, None)
                }
            }
            Source::Spent => (None, None),
        };
        Ok(Self {
            content_type,
            head,
            tail,
            source,
            sha256,
            len: module_len.map(|l| l + framing),
        })
    }

    /// The `Content-Type` header value.
    pub(crate) fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Whether the body can be made again for another attempt.
    pub(crate) fn replayable(&self) -> bool {
        matches!(self.source, Source::Bytes(_) | Source::File(_))
    }

    /// The body's bytes for one attempt. A stream is handed out once; later calls fail.
    pub(crate) async fn stream(&mut self) -> Result<BoxStream<'static, io::Result<Bytes>>> {
        let head = stream::once(futures::future::ready(Ok(self.head.clone())));
        let tail = stream::once(futures::future::ready(Ok(self.tail.clone())));
        let module: BoxStream<'static, io::Result<Bytes>> =
            match std::mem::replace(&mut self.source, Source::Spent) {
                Source::Bytes(b) => {
                    self.source = Source::Bytes(b.clone());
                    stream::once(futures::future::ready(Ok(b))).boxed()
                }
                Source::File(path) => {
                    let file = tokio::fs::File::open(&path).await;
                    self.source = Source::File(path);
                    file_chunks(file?).boxed()
                }
                Source::Stream { stream, .. } => stream,
                Source::Spent => {
                    return Err(ClientError::InvalidArgument(
                        "the upload stream was sent already and cannot be sent again".into(),
                    ));
                }
            };
        Ok(head.chain(module).chain(tail).boxed())
    }
}

fn hash_parts(head: &[u8], middle: &[&Bytes], tail: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(head);
    for m in middle {
        h.update(m);
    }
    h.update(tail);
    hex::encode(h.finalize())
}

/// Hashes head, the file and tail in one streaming pass; returns the file's length too.
async fn hash_file(path: &PathBuf, head: &[u8], tail: &[u8]) -> Result<(u64, String)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut h = Sha256::new();
    h.update(head);
    let mut buf = vec![0u8; CHUNK];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        len += n as u64;
        h.update(&buf[..n]);
    }
    h.update(tail);
    Ok((len, hex::encode(h.finalize())))
}

/// Reads a one-shot stream into memory (for hashing), up to [`MAX_BUFFERED_UPLOAD`].
async fn buffer(stream: &mut BoxStream<'static, io::Result<Bytes>>) -> Result<Bytes> {
    let mut out = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if (out.len() + chunk.len()) as u64 > MAX_BUFFERED_UPLOAD {
            return Err(ClientError::TooLarge {
                limit: MAX_BUFFERED_UPLOAD,
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// A file as a stream of chunks.
fn file_chunks(file: tokio::fs::File) -> impl futures::Stream<Item = io::Result<Bytes>> + Send {
    stream::try_unfold(file, |mut file| async move {
        let mut buf = BytesMut::with_capacity(CHUNK);
        let n = file.read_buf(&mut buf).await?;
        Ok((n > 0).then(|| (buf.freeze(), file)))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    async fn collect(up: &mut Upload) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = up.stream().await.unwrap();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    fn expected(boundary_ct: &str, meta: &[u8], wasm: &[u8]) -> Vec<u8> {
        let boundary = boundary_ct.split("boundary=").nth(1).unwrap();
        let mut v = Vec::new();
        v.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n").as_bytes());
        v.extend_from_slice(meta);
        v.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"wasm\"; filename=\"module.wasm\"\r\nContent-Type: application/wasm\r\n\r\n").as_bytes());
        v.extend_from_slice(wasm);
        v.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        v
    }

    #[tokio::test]
    async fn every_source_encodes_the_same_bytes_and_hash() {
        let meta = br#"{"name":"f"}"#;
        let wasm: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.wasm");
        std::fs::write(&path, &wasm).unwrap();
        let chunks: Vec<Result<Bytes, io::Error>> = wasm
            .chunks(7000)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        for body in [
            WasmBody::from(wasm.clone()),
            WasmBody::from_file(&path),
            WasmBody::from_stream(stream::iter(chunks), None),
        ] {
            let mut up = Upload::multipart(meta, body, true).await.unwrap();
            let want = expected(up.content_type(), meta, &wasm);
            assert_eq!(up.len, Some(want.len() as u64));
            assert_eq!(
                up.sha256.as_deref(),
                Some(hex::encode(Sha256::digest(&want)).as_str())
            );
            assert!(up.replayable());
            assert_eq!(collect(&mut up).await, want);
            // A replayable body can be made again.
            assert_eq!(collect(&mut up).await, want);
        }
    }

    #[tokio::test]
    async fn raw_bodies_are_the_module_alone() {
        let mut up = Upload::raw(WasmBody::from(b"\0asm".to_vec()), true)
            .await
            .unwrap();
        assert_eq!(up.content_type(), "application/wasm");
        assert_eq!(up.len, Some(4));
        assert_eq!(
            up.sha256.as_deref(),
            Some(hex::encode(Sha256::digest(b"\0asm")).as_str())
        );
        assert_eq!(collect(&mut up).await, b"\0asm");
    }

    #[tokio::test]
    async fn unhashed_streams_are_one_shot() {
        let chunks: Vec<Result<Bytes, io::Error>> = vec![Ok(Bytes::from_static(b"abc"))];
        let mut up = Upload::multipart(
            b"{}",
            WasmBody::from_stream(stream::iter(chunks), Some(3)),
            false,
        )
        .await
        .unwrap();
        assert!(up.sha256.is_none());
        assert!(!up.replayable());
        let want = expected(up.content_type(), b"{}", b"abc");
        assert_eq!(up.len, Some(want.len() as u64));
        assert_eq!(collect(&mut up).await, want);
        assert!(up.stream().await.is_err(), "a stream is sent once");
    }
}
