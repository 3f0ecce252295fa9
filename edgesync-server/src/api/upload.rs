//! Streaming upload bodies, never buffered whole: the `multipart/form-data` body of
//! `POST /api/v1/functions` (a `metadata` part, JSON, followed by a `wasm` part whose bytes flow
//! straight into ingest), and the raw module `PUT` to a signed upload URL.

use edgesync_core::{ByteStream, Error, ErrorCode};
use edgesync_wire::FunctionMetadata;
use futures::{StreamExt, TryStreamExt};
use poem::web::Multipart;
use poem::{Body, FromRequest, Request, RequestBody};
use poem_openapi::payload::{Binary, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiRequest, impl_apirequest_for_payload};
use tokio_util::io::ReaderStream;

/// Largest accepted `metadata` part.
const MAX_METADATA_BYTES: usize = 64 * 1024;

/// A function upload: parts are read in order as the client sends them.
pub struct WasmUpload(pub Multipart);

impl Payload for WasmUpload {
    const CONTENT_TYPE: &'static str = "multipart/form-data";

    fn check_content_type(content_type: &str) -> bool {
        content_type.starts_with("multipart/form-data")
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            properties: vec![
                ("metadata", FunctionMetadata::schema_ref()),
                (
                    "wasm",
                    MetaSchemaRef::Inline(Box::new(MetaSchema {
                        format: Some("binary"),
                        description: Some("The WebAssembly module (after `metadata`)."),
                        ..MetaSchema::new("string")
                    })),
                ),
            ],
            required: vec!["metadata", "wasm"],
            ..MetaSchema::new("object")
        }))
    }

    fn register(registry: &mut Registry) {
        FunctionMetadata::register(registry);
    }
}

impl ParsePayload for WasmUpload {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(Multipart::from_request(request, body).await?))
    }
}

impl_apirequest_for_payload!(WasmUpload);

fn bad(message: impl Into<String>) -> Error {
    Error::invalid(message)
}

impl WasmUpload {
    /// Reads the `metadata` part and returns it with a stream over the `wasm` part.
    pub async fn into_parts(mut self) -> Result<(FunctionMetadata, ByteStream), Error> {
        let field = self
            .0
            .next_field()
            .await
            .map_err(|e| bad(format!("malformed multipart body: {e}")))?
            .ok_or_else(|| bad("the body has no parts; send `metadata` then `wasm`"))?;
        if field.name() != Some("metadata") {
            return Err(bad(
                "the first part must be `metadata` (JSON), followed by `wasm`",
            ));
        }
        // The field must be dropped before the next one can be read.
        let mut raw = Vec::new();
        {
            let mut reader = ReaderStream::new(field.into_async_read());
            while let Some(chunk) = reader.next().await {
                let chunk = chunk.map_err(|e| bad(format!("could not read `metadata`: {e}")))?;
                if raw.len() + chunk.len() > MAX_METADATA_BYTES {
                    return Err(Error::new(
                        ErrorCode::PayloadTooLarge,
                        "the `metadata` part must be at most 64 KiB",
                    ));
                }
                raw.extend_from_slice(&chunk);
            }
        }
        let metadata: FunctionMetadata = serde_json::from_slice(&raw)
            .map_err(|e| bad(format!("`metadata` is not valid function metadata: {e}")))?;

        let field = self
            .0
            .next_field()
            .await
            .map_err(|e| bad(format!("malformed multipart body: {e}")))?
            .ok_or_else(|| bad("the `wasm` part is missing"))?;
        if field.name() != Some("wasm") {
            return Err(bad("the second part must be `wasm`"));
        }
        let stream = ReaderStream::with_capacity(field.into_async_read(), 64 * 1024)
            .map_err(|e| bad(format!("the upload was interrupted: {e}")))
            .boxed();
        Ok((metadata, stream))
    }
}

/// The raw module `PUT` to a signed upload URL.
#[derive(ApiRequest)]
pub enum RawWasm {
    /// The module's bytes.
    #[oai(content_type = "application/wasm")]
    Wasm(Binary<Body>),
    /// The module's bytes.
    #[oai(content_type = "application/octet-stream")]
    OctetStream(Binary<Body>),
}

impl RawWasm {
    /// The body as a stream of chunks.
    pub fn into_stream(self) -> ByteStream {
        let (Self::Wasm(Binary(body)) | Self::OctetStream(Binary(body))) = self;
        body.into_bytes_stream()
            .map_err(|e| bad(format!("the upload was interrupted: {e}")))
            .boxed()
    }
}
