//! Streaming inspection of uploaded WebAssembly modules.
//!
//! Uploads arrive as a stream of byte chunks. [`WasmInspector`] makes a single
//! pass over them and, without ever holding the whole module in memory:
//!
//! * computes the SHA-256 digest and the size of the module,
//! * enforces [`InspectLimits::max_size_bytes`] as soon as it is crossed,
//! * fully validates the module with [`wasmparser::Validator`], function body
//!   by function body, failing as soon as the bytes seen so far cannot be the
//!   prefix of a valid module,
//! * collects the exports, imports and memory declaration into a [`WasmReport`]
//!   and checks them against the deployment metadata (entrypoint, memory).
//!
//! Only the bytes the parser has not consumed yet are buffered, so memory use
//! is bounded by the largest single payload the parser needs whole: one
//! function body inside the code section, or one whole non-code section (the
//! type, import, export, data and custom sections, including name and debug
//! sections, are parsed as a unit). That bound never exceeds
//! [`InspectLimits::max_size_bytes`].
//!
//! [`compare`] decides whether a new version of a function is compatible with
//! the previous one.

use std::collections::{HashMap, HashSet};
use std::fmt;

use sha2::{Digest, Sha256};
use wasmparser::types::{CoreTypeId, Types, TypesRef};
use wasmparser::{
    BinaryReaderError, Chunk, CompositeInnerType, Encoding, ExternalKind, FuncValidatorAllocations,
    Parser, Payload, TypeRef, ValidPayload, Validator,
};

/// Limits the inspection enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectLimits {
    /// Maximum size of the module in bytes; a module of exactly this size is accepted.
    pub max_size_bytes: u64,
    /// Declared memory limit (from the function metadata), in 64 KiB WebAssembly pages.
    ///
    /// See [`WasmError::MemoryTooLarge`] for how it is applied.
    pub max_memory_pages: u32,
    /// Name under which the module must export its entrypoint function.
    pub entrypoint: String,
}

/// Kind of an imported or exported WebAssembly item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExternKind {
    /// A function.
    Function,
    /// A table.
    Table,
    /// A linear memory.
    Memory,
    /// A global.
    Global,
    /// An exception tag.
    Tag,
}

impl ExternKind {
    /// Stable lowercase name: `function`, `table`, `memory`, `global` or `tag`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Function => "function",
            Self::Table => "table",
            Self::Memory => "memory",
            Self::Global => "global",
            Self::Tag => "tag",
        }
    }

    fn from_external(kind: ExternalKind) -> Self {
        match kind {
            ExternalKind::Func | ExternalKind::FuncExact => Self::Function,
            ExternalKind::Table => Self::Table,
            ExternalKind::Memory => Self::Memory,
            ExternalKind::Global => Self::Global,
            ExternalKind::Tag => Self::Tag,
        }
    }

    fn from_type_ref(ty: &TypeRef) -> Self {
        match ty {
            TypeRef::Func(_) | TypeRef::FuncExact(_) => Self::Function,
            TypeRef::Table(_) => Self::Table,
            TypeRef::Memory(_) => Self::Memory,
            TypeRef::Global(_) => Self::Global,
            TypeRef::Tag(_) => Self::Tag,
        }
    }
}

impl fmt::Display for ExternKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Signature of a function, value types rendered in WebAssembly text syntax (`"i32"`, `"externref"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FuncSignature {
    /// Parameter types, in order.
    pub params: Vec<String>,
    /// Result types, in order.
    pub results: Vec<String>,
}

impl fmt::Display for FuncSignature {
    /// Renders as `(i32, i32) -> (i64)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "({}) -> ({})",
            self.params.join(", "),
            self.results.join(", ")
        )
    }
}

/// An item exported by the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportInfo {
    /// Export name.
    pub name: String,
    /// Kind of the exported item.
    pub kind: ExternKind,
    /// Signature, for exported functions only.
    pub signature: Option<FuncSignature>,
}

/// An item the module imports from its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportInfo {
    /// Module name of the import (e.g. `"env"`).
    pub module: String,
    /// Item name of the import.
    pub name: String,
    /// Kind of the imported item.
    pub kind: ExternKind,
    /// Signature, for imported functions only.
    pub signature: Option<FuncSignature>,
}

/// A linear memory of the module, in 64 KiB pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryInfo {
    /// Initial (minimum) size in pages.
    pub initial_pages: u64,
    /// Maximum size in pages, if the module declares one.
    pub maximum_pages: Option<u64>,
    /// Whether this is a 64-bit (memory64) memory.
    pub memory64: bool,
    /// Whether this is a shared (threads) memory.
    pub shared: bool,
    /// Whether the memory is imported from the host rather than defined by the module.
    pub imported: bool,
}

/// Result of a successful inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmReport {
    /// SHA-256 digest of the module bytes.
    pub sha256: [u8; 32],
    /// Size of the module in bytes.
    pub size: u64,
    /// Exports, in module order.
    pub exports: Vec<ExportInfo>,
    /// Imports, in module order.
    pub imports: Vec<ImportInfo>,
    /// The module's first memory (imported memories come first), if any.
    pub memory: Option<MemoryInfo>,
}

impl WasmReport {
    /// The SHA-256 digest as lowercase hexadecimal.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// The export with this exact name, if any.
    pub fn export(&self, name: &str) -> Option<&ExportInfo> {
        self.exports.iter().find(|export| export.name == name)
    }

    /// The import `module`.`name`, if any.
    pub fn import(&self, module: &str, name: &str) -> Option<&ImportInfo> {
        self.imports
            .iter()
            .find(|import| import.module == module && import.name == name)
    }
}

/// Why a module was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WasmError {
    /// The module is larger than [`InspectLimits::max_size_bytes`].
    #[error("module exceeds the maximum size of {limit} bytes")]
    TooLarge {
        /// The size limit in bytes.
        limit: u64,
    },
    /// The bytes are not a valid WebAssembly module.
    #[error("invalid WebAssembly module at byte offset {offset}: {reason}")]
    Invalid {
        /// Byte offset in the module where the problem was detected.
        offset: usize,
        /// The validator's message.
        reason: String,
    },
    /// No bytes were uploaded.
    #[error("the WebAssembly module is empty")]
    Empty,
    /// The entrypoint is not exported at all.
    #[error("the module does not export the entrypoint `{entrypoint}`")]
    EntrypointMissing {
        /// The expected entrypoint name.
        entrypoint: String,
    },
    /// The entrypoint is exported, but not as a function.
    #[error("the entrypoint `{entrypoint}` is exported as a {kind}, not as a function")]
    EntrypointNotFunction {
        /// The expected entrypoint name.
        entrypoint: String,
        /// What the export actually is (`memory`, `global`, ...).
        kind: String,
    },
    /// A memory of the module needs more initial pages than the declared limit.
    ///
    /// Rule: a module is rejected when the *initial* size of any of its
    /// memories (defined or imported) exceeds [`InspectLimits::max_memory_pages`].
    /// A larger or absent *maximum* is accepted, because the edge runtime caps
    /// `memory.grow` at the declared limit: growth past it fails at run time
    /// instead of making the module undeployable.
    #[error(
        "the module's memory needs {declared_pages} initial pages, more than the limit of {limit_pages} pages"
    )]
    MemoryTooLarge {
        /// Initial pages the module declares.
        declared_pages: u64,
        /// The declared limit in pages.
        limit_pages: u32,
    },
    /// The binary is a component-model component, not a core module.
    #[error(
        "WebAssembly components (component model) are not supported; upload a core WebAssembly module"
    )]
    Component,
}

impl WasmError {
    /// Stable snake_case error code for API responses.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "wasm_too_large",
            Self::Invalid { .. } => "invalid_wasm",
            Self::Empty => "empty_wasm",
            Self::EntrypointMissing { .. } => "entrypoint_missing",
            Self::EntrypointNotFunction { .. } => "entrypoint_not_function",
            Self::MemoryTooLarge { .. } => "memory_limit_exceeded",
            Self::Component => "wasm_component_unsupported",
        }
    }
}

impl From<BinaryReaderError> for WasmError {
    fn from(error: BinaryReaderError) -> Self {
        Self::Invalid {
            offset: error.offset(),
            reason: error.message().to_owned(),
        }
    }
}

/// Streaming inspector: feed chunks with [`update`](Self::update), then call [`finish`](Self::finish).
pub struct WasmInspector {
    limits: InspectLimits,
    hasher: Sha256,
    size: u64,
    /// Bytes received but not consumed by the parser yet.
    pending: Vec<u8>,
    /// Parsing is retried only once `pending` holds this many bytes (the parser's hint).
    wanted: usize,
    state: ParseState,
    /// The first error; every later call reports it again.
    failure: Option<WasmError>,
}

/// Parser, validator and what was collected from the payloads so far.
struct ParseState {
    parser: Parser,
    validator: Validator,
    allocations: FuncValidatorAllocations,
    exports: Vec<(String, ExternKind, u32)>,
    imports: Vec<(String, String, TypeRef)>,
    types: Option<Types>,
}

impl WasmInspector {
    /// Starts inspecting a new module.
    pub fn new(limits: InspectLimits) -> Self {
        Self {
            limits,
            hasher: Sha256::new(),
            size: 0,
            pending: Vec::new(),
            wanted: 0,
            state: ParseState {
                parser: Parser::new(0),
                validator: Validator::new(),
                allocations: FuncValidatorAllocations::default(),
                exports: Vec::new(),
                imports: Vec::new(),
                types: None,
            },
            failure: None,
        }
    }

    /// Feeds the next chunk: hashes it, counts it and validates what can be validated so far.
    ///
    /// Fails fast with [`WasmError::TooLarge`] as soon as the running size
    /// exceeds the limit (the offending chunk is not hashed), and with
    /// [`WasmError::Invalid`] or [`WasmError::Component`] as soon as the bytes
    /// seen cannot start a valid core module. After an error, every further
    /// call returns that same error.
    pub fn update(&mut self, chunk: &[u8]) -> Result<(), WasmError> {
        if let Some(error) = &self.failure {
            return Err(error.clone());
        }
        let result = self.ingest(chunk);
        if let Err(error) = &result {
            self.failure = Some(error.clone());
        }
        result
    }

    /// Total number of bytes accepted so far.
    pub fn bytes_seen(&self) -> u64 {
        self.size
    }

    /// Number of bytes currently buffered (received but not parsed yet).
    pub fn buffered_bytes(&self) -> usize {
        self.pending.len()
    }

    /// Ends the input: completes validation and checks the module against the limits.
    pub fn finish(mut self) -> Result<WasmReport, WasmError> {
        if let Some(error) = self.failure.take() {
            return Err(error);
        }
        if self.size == 0 {
            return Err(WasmError::Empty);
        }
        self.drive(true)?;
        let Some(types) = self.state.types.take() else {
            // Unreachable: at end of input the parser either errors or reaches the end.
            return Err(WasmError::Invalid {
                offset: usize::try_from(self.size).unwrap_or(usize::MAX),
                reason: "unexpected end of module".to_owned(),
            });
        };
        let report = self
            .state
            .report(types.as_ref(), self.hasher.finalize().into(), self.size);
        check_entrypoint(&report, &self.limits.entrypoint)?;
        check_memory(types.as_ref(), self.limits.max_memory_pages)?;
        Ok(report)
    }

    fn ingest(&mut self, chunk: &[u8]) -> Result<(), WasmError> {
        let chunk_len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        let size = self.size.saturating_add(chunk_len);
        if size > self.limits.max_size_bytes {
            return Err(WasmError::TooLarge {
                limit: self.limits.max_size_bytes,
            });
        }
        self.hasher.update(chunk);
        self.size = size;
        self.pending.extend_from_slice(chunk);
        if self.pending.len() < self.wanted {
            return Ok(());
        }
        self.drive(false)
    }

    /// Parses and validates every payload `pending` holds, then drops the consumed bytes.
    fn drive(&mut self, eof: bool) -> Result<(), WasmError> {
        let mut consumed_total = 0;
        let result = loop {
            let data = &self.pending[consumed_total..];
            match self.state.parser.parse(data, eof) {
                Err(error) => break Err(error.into()),
                Ok(Chunk::NeedMoreData(hint)) => {
                    let hint = usize::try_from(hint).unwrap_or(usize::MAX);
                    self.wanted = data.len().saturating_add(hint);
                    break Ok(());
                }
                Ok(Chunk::Parsed { consumed, payload }) => {
                    consumed_total += consumed;
                    match self.state.process(&payload) {
                        Ok(true) => break Ok(()),
                        Ok(false) => {}
                        Err(error) => break Err(error),
                    }
                }
            }
        };
        self.pending.drain(..consumed_total);
        result
    }
}

impl ParseState {
    /// Validates one payload and records what the report needs; `Ok(true)` at the end of the module.
    fn process(&mut self, payload: &Payload<'_>) -> Result<bool, WasmError> {
        if let Payload::Version {
            encoding: Encoding::Component,
            ..
        } = payload
        {
            return Err(WasmError::Component);
        }
        match self.validator.payload(payload)? {
            ValidPayload::Ok => {}
            ValidPayload::Func(func, body) => {
                let allocations = std::mem::take(&mut self.allocations);
                let mut validator = func.into_validator(allocations);
                validator.validate(&body)?;
                self.allocations = validator.into_allocations();
            }
            ValidPayload::End(types) => {
                self.types = Some(types);
                return Ok(true);
            }
            // Nested modules only exist inside components, which were rejected above.
            ValidPayload::Parser(_) => return Err(WasmError::Component),
        }
        match payload {
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports() {
                    let import = import?;
                    self.imports.push((
                        import.module.to_owned(),
                        import.name.to_owned(),
                        import.ty,
                    ));
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader.clone() {
                    let export = export?;
                    let kind = ExternKind::from_external(export.kind);
                    self.exports
                        .push((export.name.to_owned(), kind, export.index));
                }
            }
            _ => {}
        }
        Ok(false)
    }

    fn report(&self, types: TypesRef<'_>, sha256: [u8; 32], size: u64) -> WasmReport {
        let exports = self
            .exports
            .iter()
            .map(|(name, kind, index)| ExportInfo {
                name: name.clone(),
                kind: *kind,
                signature: match kind {
                    ExternKind::Function => function_signature(types, *index),
                    _ => None,
                },
            })
            .collect();
        let imports = self
            .imports
            .iter()
            .map(|(module, name, ty)| ImportInfo {
                module: module.clone(),
                name: name.clone(),
                kind: ExternKind::from_type_ref(ty),
                signature: match ty {
                    TypeRef::Func(index) | TypeRef::FuncExact(index) => {
                        type_signature(types, *index)
                    }
                    _ => None,
                },
            })
            .collect();
        let imported_memories = self
            .imports
            .iter()
            .filter(|(_, _, ty)| matches!(ty, TypeRef::Memory(_)))
            .count();
        let memory = (types.memory_count() > 0).then(|| {
            let memory = types.memory_at(0);
            MemoryInfo {
                initial_pages: memory.initial,
                maximum_pages: memory.maximum,
                memory64: memory.memory64,
                shared: memory.shared,
                imported: imported_memories > 0,
            }
        });
        WasmReport {
            sha256,
            size,
            exports,
            imports,
            memory,
        }
    }
}

/// Signature of the function with this index (imports first), if it is a function type.
fn function_signature(types: TypesRef<'_>, func_index: u32) -> Option<FuncSignature> {
    if func_index >= types.function_count() {
        return None;
    }
    signature_of(types, types.core_function_at(func_index))
}

/// Signature of the type with this index in the type section, if it is a function type.
fn type_signature(types: TypesRef<'_>, type_index: u32) -> Option<FuncSignature> {
    if type_index >= types.core_type_count_in_module() {
        return None;
    }
    signature_of(types, types.core_type_at_in_module(type_index))
}

fn signature_of(types: TypesRef<'_>, id: CoreTypeId) -> Option<FuncSignature> {
    match &types.get(id)?.composite_type.inner {
        CompositeInnerType::Func(func) => Some(FuncSignature {
            params: func.params().iter().map(ToString::to_string).collect(),
            results: func.results().iter().map(ToString::to_string).collect(),
        }),
        _ => None,
    }
}

fn check_entrypoint(report: &WasmReport, entrypoint: &str) -> Result<(), WasmError> {
    match report.export(entrypoint) {
        None => Err(WasmError::EntrypointMissing {
            entrypoint: entrypoint.to_owned(),
        }),
        Some(export) if export.kind != ExternKind::Function => {
            Err(WasmError::EntrypointNotFunction {
                entrypoint: entrypoint.to_owned(),
                kind: export.kind.as_str().to_owned(),
            })
        }
        Some(_) => Ok(()),
    }
}

/// Applies the rule documented on [`WasmError::MemoryTooLarge`] to every memory.
fn check_memory(types: TypesRef<'_>, limit_pages: u32) -> Result<(), WasmError> {
    for index in 0..types.memory_count() {
        let memory = types.memory_at(index);
        if memory.initial > u64::from(limit_pages) {
            return Err(WasmError::MemoryTooLarge {
                declared_pages: memory.initial,
                limit_pages,
            });
        }
    }
    Ok(())
}

/// Convenience for whole buffers (tests, small inputs): exactly the checks of the streaming path.
pub fn inspect(bytes: &[u8], limits: InspectLimits) -> Result<WasmReport, WasmError> {
    let mut inspector = WasmInspector::new(limits);
    inspector.update(bytes)?;
    inspector.finish()
}

/// Prefix of [`Compatibility::reasons`] entries that make a change breaking.
pub const BREAKING_PREFIX: &str = "breaking: ";
/// Prefix of [`Compatibility::reasons`] entries that are informational only.
pub const INFO_PREFIX: &str = "info: ";

/// Compatibility of a new version of a module against the previous one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compatibility {
    /// Whether at least one reason is breaking.
    pub breaking: bool,
    /// Human-readable differences: breaking ones first, each prefixed with
    /// [`BREAKING_PREFIX`], then informational ones prefixed with [`INFO_PREFIX`].
    /// Empty when the modules have the same interface.
    pub reasons: Vec<String>,
}

/// Compares the interface of `next` against `previous` (version N+1 against N).
///
/// Breaking changes:
/// * the entrypoint is no longer exported as a function, or its signature changed;
/// * any other export present before is gone, changed kind, or (functions) changed signature;
/// * `next` needs an import `previous` did not need, or an import changed kind or signature
///   (a new host requirement);
/// * the initial memory size grew past the previous memory's maximum.
///
/// Informational changes: added exports, imports no longer needed, memory
/// added, removed or resized within the previous maximum.
pub fn compare(previous: &WasmReport, next: &WasmReport, entrypoint: &str) -> Compatibility {
    let mut breaking = Vec::new();
    let mut info = Vec::new();
    compare_entrypoint(previous, next, entrypoint, &mut breaking);
    compare_exports(previous, next, entrypoint, &mut breaking, &mut info);
    compare_imports(previous, next, &mut breaking, &mut info);
    compare_memory(previous.memory, next.memory, &mut breaking, &mut info);
    let reasons = breaking
        .iter()
        .map(|reason| format!("{BREAKING_PREFIX}{reason}"))
        .chain(info.iter().map(|reason| format!("{INFO_PREFIX}{reason}")))
        .collect();
    Compatibility {
        breaking: !breaking.is_empty(),
        reasons,
    }
}

fn compare_entrypoint(
    previous: &WasmReport,
    next: &WasmReport,
    entrypoint: &str,
    breaking: &mut Vec<String>,
) {
    let Some(new) = next
        .export(entrypoint)
        .filter(|export| export.kind == ExternKind::Function)
    else {
        breaking.push(format!(
            "entrypoint `{entrypoint}` is no longer exported as a function"
        ));
        return;
    };
    if let Some(old) = previous.export(entrypoint)
        && old.kind == ExternKind::Function
        && old.signature != new.signature
    {
        breaking.push(format!(
            "entrypoint `{entrypoint}` signature changed from {} to {}",
            describe(old.signature.as_ref()),
            describe(new.signature.as_ref())
        ));
    }
}

fn compare_exports(
    previous: &WasmReport,
    next: &WasmReport,
    entrypoint: &str,
    breaking: &mut Vec<String>,
    info: &mut Vec<String>,
) {
    // Indexed by name: modules can export hundreds of thousands of items, and a quadratic
    // comparison would let one upload stall the server.
    let before: HashMap<&str, &ExportInfo> = previous
        .exports
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    let after: HashMap<&str, &ExportInfo> =
        next.exports.iter().map(|e| (e.name.as_str(), e)).collect();
    for old in previous.exports.iter().filter(|e| e.name != entrypoint) {
        let name = &old.name;
        match after.get(name.as_str()).copied() {
            None => breaking.push(format!("{} export `{name}` was removed", old.kind)),
            Some(new) if new.kind != old.kind => breaking.push(format!(
                "export `{name}` changed from a {} to a {}",
                old.kind, new.kind
            )),
            Some(new) if new.signature != old.signature => breaking.push(format!(
                "function export `{name}` signature changed from {} to {}",
                describe(old.signature.as_ref()),
                describe(new.signature.as_ref())
            )),
            Some(_) => {}
        }
    }
    for new in &next.exports {
        if !before.contains_key(new.name.as_str()) {
            info.push(format!("{} export `{}` was added", new.kind, new.name));
        }
    }
}

fn compare_imports(
    previous: &WasmReport,
    next: &WasmReport,
    breaking: &mut Vec<String>,
    info: &mut Vec<String>,
) {
    let key = |i: &ImportInfo| (i.module.clone(), i.name.clone());
    // A module may import the same `module.name` more than once, with different types: an
    // import is unchanged when any previous import of that name had its kind and signature.
    let mut before: HashMap<(String, String), Vec<&ImportInfo>> = HashMap::new();
    for old in &previous.imports {
        before.entry(key(old)).or_default().push(old);
    }
    let after: HashSet<(String, String)> = next.imports.iter().map(key).collect();
    for new in &next.imports {
        let (module, name) = (&new.module, &new.name);
        let Some(olds) = before.get(&key(new)) else {
            breaking.push(format!(
                "new host import `{module}.{name}` ({})",
                describe_import(new)
            ));
            continue;
        };
        let unchanged = olds
            .iter()
            .any(|old| old.kind == new.kind && old.signature == new.signature);
        if !unchanged && let Some(old) = olds.first() {
            breaking.push(format!(
                "host import `{module}.{name}` changed from {} to {}",
                describe_import(old),
                describe_import(new)
            ));
        }
    }
    for old in &previous.imports {
        if !after.contains(&key(old)) {
            info.push(format!(
                "host import `{}.{}` is no longer needed",
                old.module, old.name
            ));
        }
    }
}

fn compare_memory(
    previous: Option<MemoryInfo>,
    next: Option<MemoryInfo>,
    breaking: &mut Vec<String>,
    info: &mut Vec<String>,
) {
    match (previous, next) {
        (None, None) => {}
        (None, Some(new)) => info.push(format!(
            "memory added with {} initial pages",
            new.initial_pages
        )),
        (Some(_), None) => info.push("memory removed".to_owned()),
        (Some(old), Some(new)) => {
            match old.maximum_pages {
                Some(max) if new.initial_pages > max => breaking.push(format!(
                    "memory initial size of {} pages exceeds the previous maximum of {max} pages",
                    new.initial_pages
                )),
                _ if new.initial_pages != old.initial_pages => info.push(format!(
                    "memory initial size changed from {} to {} pages",
                    old.initial_pages, new.initial_pages
                )),
                _ => {}
            }
            if new.maximum_pages != old.maximum_pages {
                info.push(format!(
                    "memory maximum changed from {} to {}",
                    describe_pages(old.maximum_pages),
                    describe_pages(new.maximum_pages)
                ));
            }
        }
    }
}

fn describe(signature: Option<&FuncSignature>) -> String {
    signature.map_or_else(|| "(unknown)".to_owned(), ToString::to_string)
}

fn describe_import(import: &ImportInfo) -> String {
    match &import.signature {
        Some(signature) => format!("{} {signature}", import.kind),
        None => import.kind.to_string(),
    }
}

fn describe_pages(pages: Option<u64>) -> String {
    pages.map_or_else(|| "unbounded".to_owned(), |pages| format!("{pages} pages"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::LazyLock;

    use proptest::prelude::*;

    use super::*;

    const HELLO: &str = r#"
        (module
          (import "env" "log" (func $log (param i32 i32)))
          (memory (export "memory") 1 4)
          (data (i32.const 0) "hello")
          (func (export "_start") (call $log (i32.const 0) (i32.const 5)))
          (func (export "add") (param i32 i32) (result i32)
            (i32.add (local.get 0) (local.get 1))))
    "#;

    fn limits(entrypoint: &str) -> InspectLimits {
        InspectLimits {
            max_size_bytes: 1 << 20,
            max_memory_pages: 16,
            entrypoint: entrypoint.to_owned(),
        }
    }

    fn module(wat: &str) -> Vec<u8> {
        wat::parse_str(wat).unwrap()
    }

    fn report(wat: &str) -> WasmReport {
        inspect(&module(wat), limits("_start")).unwrap()
    }

    /// Streams `bytes` cutting chunks with the sizes in `cuts`, cycling through them.
    fn inspect_chunked(
        bytes: &[u8],
        cuts: &[usize],
        limits: InspectLimits,
    ) -> Result<WasmReport, WasmError> {
        let mut inspector = WasmInspector::new(limits);
        let mut rest = bytes;
        for &cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at(cut.clamp(1, rest.len()));
            inspector.update(chunk)?;
            rest = tail;
        }
        inspector.finish()
    }

    /// A module with `count` functions, each with a non-trivial body.
    ///
    /// Functions are unnamed so that no (whole-parsed) name section is emitted.
    fn many_functions(count: usize) -> String {
        let mut wat = String::from("(module (memory (export \"memory\") 1)\n");
        for i in 0..count {
            wat.push_str(&format!(
                "(func (param i32) (result i32) (local i32)
                   (local.set 1 (i32.mul (local.get 0) (i32.const {i})))
                   (i32.store (i32.const 0) (local.get 1))
                   (i32.store (i32.const 4) (i32.xor (local.get 1) (i32.const 987654)))
                   (i32.store (i32.const 8) (i32.rotl (local.get 1) (i32.const 13)))
                   (i32.add (i32.load (i32.const 0)) (i32.const 12345678)))\n"
            ));
        }
        wat.push_str("(func (export \"_start\") (drop (call 0 (i32.const 1)))))");
        wat
    }

    static FIXTURES: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
        vec![
            module(HELLO),
            module(r#"(module (func (export "_start")))"#),
            module(
                r#"(module (import "env" "memory" (memory 2 8))
                     (global $g (mut i64) (i64.const 7))
                     (table 2 funcref) (elem (i32.const 0) $a $a)
                     (func $a (export "_start") (param f64) (result f32)
                       (f32.demote_f64 (local.get 0)))
                     (export "g" (global $g)))"#,
            ),
            module(&many_functions(40)),
        ]
    });

    #[test]
    fn hello_module_report() {
        let bytes = module(HELLO);
        let report = inspect(&bytes, limits("_start")).unwrap();

        assert_eq!(report.size, bytes.len() as u64);
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(report.sha256, digest);
        assert_eq!(report.sha256_hex(), hex::encode(digest));

        let names: Vec<_> = report.exports.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["memory", "_start", "add"]);
        let memory = report.export("memory").unwrap();
        assert_eq!(
            (memory.kind, &memory.signature),
            (ExternKind::Memory, &None)
        );
        let start = report.export("_start").unwrap();
        assert_eq!(start.kind, ExternKind::Function);
        assert_eq!(start.signature, Some(FuncSignature::default()));
        let add = report.export("add").unwrap().signature.clone().unwrap();
        assert_eq!(add.params, ["i32", "i32"]);
        assert_eq!(add.results, ["i32"]);
        assert_eq!(add.to_string(), "(i32, i32) -> (i32)");

        assert_eq!(
            report.imports,
            [ImportInfo {
                module: "env".into(),
                name: "log".into(),
                kind: ExternKind::Function,
                signature: Some(FuncSignature {
                    params: vec!["i32".into(), "i32".into()],
                    results: vec![],
                }),
            }]
        );
        assert_eq!(
            report.memory,
            Some(MemoryInfo {
                initial_pages: 1,
                maximum_pages: Some(4),
                memory64: false,
                shared: false,
                imported: false,
            })
        );
    }

    #[test]
    fn entrypoint_missing() {
        let err = inspect(&module(HELLO), limits("main")).unwrap_err();
        assert_eq!(
            err,
            WasmError::EntrypointMissing {
                entrypoint: "main".into()
            }
        );
        assert_eq!(err.code(), "entrypoint_missing");
    }

    #[test]
    fn entrypoint_must_be_a_function() {
        let bytes = module(r#"(module (global (export "_start") i32 (i32.const 0)))"#);
        let err = inspect(&bytes, limits("_start")).unwrap_err();
        assert_eq!(
            err,
            WasmError::EntrypointNotFunction {
                entrypoint: "_start".into(),
                kind: "global".into()
            }
        );
        assert_eq!(err.code(), "entrypoint_not_function");
        let err = inspect(&module(HELLO), limits("memory")).unwrap_err();
        assert_eq!(err.code(), "entrypoint_not_function");
    }

    #[test]
    fn entrypoint_name_is_exact() {
        let bytes = module(r#"(module (func (export "_start ")) (func (export "Start")))"#);
        let err = inspect(&bytes, limits("_start")).unwrap_err();
        assert_eq!(err.code(), "entrypoint_missing");
    }

    #[test]
    fn memory_initial_pages_over_limit_is_rejected() {
        let bytes = module(r#"(module (memory 17) (func (export "_start")))"#);
        let err = inspect(&bytes, limits("_start")).unwrap_err();
        assert_eq!(
            err,
            WasmError::MemoryTooLarge {
                declared_pages: 17,
                limit_pages: 16
            }
        );
        assert_eq!(err.code(), "memory_limit_exceeded");
    }

    #[test]
    fn memory_maximum_over_limit_or_unbounded_is_accepted() {
        for wat in [
            r#"(module (memory 16 1000) (func (export "_start")))"#,
            r#"(module (memory 16) (func (export "_start")))"#,
        ] {
            let report = report(wat);
            assert_eq!(report.memory.unwrap().initial_pages, 16);
        }
    }

    #[test]
    fn imported_memory_is_checked() {
        let wat = r#"(module (import "env" "memory" (memory 20 30)) (func (export "_start")))"#;
        let err = inspect(&module(wat), limits("_start")).unwrap_err();
        assert_eq!(
            err,
            WasmError::MemoryTooLarge {
                declared_pages: 20,
                limit_pages: 16
            }
        );
        let mut relaxed = limits("_start");
        relaxed.max_memory_pages = 20;
        let report = inspect(&module(wat), relaxed).unwrap();
        let memory = report.memory.unwrap();
        assert!(memory.imported);
        assert_eq!((memory.initial_pages, memory.maximum_pages), (20, Some(30)));
        assert_eq!(report.imports[0].kind, ExternKind::Memory);
    }

    #[test]
    fn memory64_pages_are_reported_as_u64() {
        let wat = r#"(module (memory i64 3 70000) (func (export "_start")))"#;
        let report = report(wat);
        let memory = report.memory.unwrap();
        assert!(memory.memory64);
        assert_eq!(
            (memory.initial_pages, memory.maximum_pages),
            (3, Some(70_000))
        );

        let mut tight = limits("_start");
        tight.max_memory_pages = 2;
        let err = inspect(&module(wat), tight).unwrap_err();
        assert_eq!(
            err,
            WasmError::MemoryTooLarge {
                declared_pages: 3,
                limit_pages: 2
            }
        );
    }

    #[test]
    fn module_without_memory() {
        assert_eq!(report(r#"(module (func (export "_start")))"#).memory, None);
    }

    #[test]
    fn garbage_is_invalid() {
        let err = inspect(b"this is not wasm at all", limits("_start")).unwrap_err();
        assert!(
            matches!(err, WasmError::Invalid { offset: 0, .. }),
            "{err:?}"
        );
        assert_eq!(err.code(), "invalid_wasm");
        assert!(err.to_string().contains("magic"), "{err}");
    }

    #[test]
    fn invalid_function_body_is_reported_with_offset() {
        // Valid structure, but the body returns nothing where an i32 is expected.
        let bytes = module(r#"(module (func (export "_start") (result i32) nop))"#);
        let err = inspect(&bytes, limits("_start")).unwrap_err();
        let WasmError::Invalid { offset, reason } = &err else {
            panic!("unexpected {err:?}");
        };
        assert!(*offset > 8 && *offset < bytes.len(), "{err}");
        assert!(reason.contains("type mismatch"), "{reason}");
    }

    #[test]
    fn every_truncated_prefix_is_rejected() {
        for bytes in FIXTURES.iter() {
            for len in 0..=bytes.len() {
                let prefix = &bytes[..len];
                let whole = inspect(prefix, limits("_start"));
                let streamed = inspect_chunked(prefix, &[1], limits("_start"));
                // A prefix ending on a section boundary is itself a complete module,
                // which may then fail only the metadata checks (or even pass).
                let complete = wasmparser::validate(prefix).is_ok();
                match &whole {
                    _ if len == 0 => assert_eq!(whole, Err(WasmError::Empty)),
                    _ if len == bytes.len() => assert!(whole.is_ok()),
                    Err(WasmError::Invalid { .. }) => assert!(!complete, "prefix {len}"),
                    _ => assert!(complete, "prefix {len}: {whole:?}"),
                }
                assert_eq!(whole.map_err(|e| e.code()), streamed.map_err(|e| e.code()));
            }
        }
    }

    #[test]
    fn empty_input() {
        assert_eq!(inspect(&[], limits("_start")), Err(WasmError::Empty));
        let mut inspector = WasmInspector::new(limits("_start"));
        inspector.update(&[]).unwrap();
        let err = inspector.finish().unwrap_err();
        assert_eq!(err.code(), "empty_wasm");
        assert_eq!(
            WasmInspector::new(limits("_start")).finish(),
            Err(WasmError::Empty)
        );
    }

    #[test]
    fn size_limit_is_inclusive() {
        let bytes = module(HELLO);
        let size = bytes.len() as u64;
        let at_limit = InspectLimits {
            max_size_bytes: size,
            ..limits("_start")
        };
        assert!(inspect(&bytes, at_limit).is_ok());

        let below = InspectLimits {
            max_size_bytes: size - 1,
            ..limits("_start")
        };
        let err = inspect(&bytes, below.clone()).unwrap_err();
        assert_eq!(err, WasmError::TooLarge { limit: size - 1 });
        assert_eq!(err.code(), "wasm_too_large");
        assert_eq!(
            err.to_string(),
            format!("module exceeds the maximum size of {} bytes", size - 1)
        );

        // Streaming byte by byte fails exactly on byte limit + 1, then stays failed.
        let mut inspector = WasmInspector::new(below);
        let (last, head) = bytes.split_last().unwrap();
        for byte in head {
            inspector.update(std::slice::from_ref(byte)).unwrap();
        }
        assert_eq!(inspector.bytes_seen(), size - 1);
        assert_eq!(inspector.update(&[*last]), Err(err.clone()));
        assert_eq!(inspector.bytes_seen(), size - 1);
        assert_eq!(inspector.update(&[]), Err(err.clone()));
        assert_eq!(inspector.finish(), Err(err));
    }

    #[test]
    fn invalid_prefix_fails_fast_and_sticks() {
        let mut inspector = WasmInspector::new(limits("_start"));
        let err = inspector.update(b"\0asm\x02\0\0\0").unwrap_err();
        assert_eq!(err.code(), "invalid_wasm");
        assert_eq!(inspector.update(b"more"), Err(err.clone()));
        assert_eq!(inspector.finish(), Err(err));
    }

    #[test]
    fn components_are_rejected() {
        let component = b"\0asm\x0d\0\x01\0";
        let err = inspect(component, limits("_start")).unwrap_err();
        assert_eq!(err, WasmError::Component);
        assert_eq!(err.code(), "wasm_component_unsupported");
        assert!(err.to_string().contains("not supported"));
    }

    #[test]
    fn error_codes_are_stable() {
        let cases = [
            (WasmError::TooLarge { limit: 1 }, "wasm_too_large"),
            (
                WasmError::Invalid {
                    offset: 0,
                    reason: String::new(),
                },
                "invalid_wasm",
            ),
            (WasmError::Empty, "empty_wasm"),
            (
                WasmError::EntrypointMissing {
                    entrypoint: String::new(),
                },
                "entrypoint_missing",
            ),
            (
                WasmError::EntrypointNotFunction {
                    entrypoint: String::new(),
                    kind: String::new(),
                },
                "entrypoint_not_function",
            ),
            (
                WasmError::MemoryTooLarge {
                    declared_pages: 2,
                    limit_pages: 1,
                },
                "memory_limit_exceeded",
            ),
            (WasmError::Component, "wasm_component_unsupported"),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn large_module_streams_with_bounded_buffer() {
        let bytes = module(&many_functions(2_000));
        assert!(
            bytes.len() > 100 * 1024,
            "module is only {} bytes",
            bytes.len()
        );
        let mut inspector = WasmInspector::new(InspectLimits {
            max_size_bytes: 16 << 20,
            ..limits("_start")
        });
        let mut max_buffered = 0;
        for chunk in bytes.chunks(4096) {
            inspector.update(chunk).unwrap();
            max_buffered = max_buffered.max(inspector.buffered_bytes());
        }
        assert!(max_buffered < 4096, "buffered up to {max_buffered} bytes");
        let report = inspector.finish().unwrap();
        assert_eq!(report, inspect(&bytes, limits("_start")).unwrap());
        assert_eq!(report.size, bytes.len() as u64);
    }

    #[test]
    fn invalid_function_body_fails_before_the_end_of_the_stream() {
        let wat = many_functions(2_000).replacen(
            "(module (memory (export \"memory\") 1)",
            "(module (memory (export \"memory\") 1) (func (result i32) nop)",
            1,
        );
        let bytes = module(&wat);
        let mut inspector = WasmInspector::new(limits("_start"));
        let mut chunks = bytes.chunks(4096);
        let failure = chunks
            .by_ref()
            .find_map(|chunk| inspector.update(chunk).err());
        assert_eq!(failure.as_ref().map(WasmError::code), Some("invalid_wasm"));
        assert!(
            chunks.len() > 10,
            "failed late: {} chunks left",
            chunks.len()
        );
        assert_eq!(inspector.finish().err(), failure);
    }

    fn compat(previous: &str, next: &str) -> Compatibility {
        compare(&report(previous), &report(next), "_start")
    }

    #[test]
    fn compare_same_module_is_compatible() {
        let result = compat(HELLO, HELLO);
        assert_eq!(result, Compatibility::default());
    }

    #[test]
    fn compare_removed_entrypoint_is_breaking() {
        let previous = report(HELLO);
        let next = inspect(
            &module(r#"(module (func (export "main")))"#),
            limits("main"),
        )
        .unwrap();
        let result = compare(&previous, &next, "_start");
        assert!(result.breaking);
        assert!(
            result.reasons.contains(
                &"breaking: entrypoint `_start` is no longer exported as a function".to_owned()
            ),
            "{result:?}"
        );
    }

    #[test]
    fn compare_changed_signatures_are_breaking() {
        let result = compat(
            r#"(module (func (export "_start")))"#,
            r#"(module (func (export "_start") (param i32)))"#,
        );
        assert!(result.breaking);
        assert_eq!(
            result.reasons,
            ["breaking: entrypoint `_start` signature changed from () -> () to (i32) -> ()"]
        );

        let next = HELLO.replace(
            "(param i32 i32) (result i32)",
            "(param i64 i64) (result i64)",
        );
        let next = next.replace("i32.add", "i64.add");
        let result = compat(HELLO, &next);
        assert!(result.breaking);
        assert_eq!(
            result.reasons,
            [
                "breaking: function export `add` signature changed from (i32, i32) -> (i32) to (i64, i64) -> (i64)"
            ]
        );
    }

    #[test]
    fn compare_added_export_is_informational() {
        let next = HELLO.replace(
            "(memory (export \"memory\") 1 4)",
            "(memory (export \"memory\") 2 4) (func (export \"extra\"))",
        );
        let result = compat(HELLO, &next);
        assert!(!result.breaking, "{result:?}");
        assert_eq!(
            result.reasons,
            [
                "info: function export `extra` was added",
                "info: memory initial size changed from 1 to 2 pages"
            ]
        );
    }

    #[test]
    fn compare_removed_export_and_new_import_are_breaking() {
        let result = compat(
            r#"(module (func (export "_start")) (func (export "helper")))"#,
            r#"(module (import "env" "now" (func (result i64))) (func (export "_start")))"#,
        );
        assert!(result.breaking);
        assert_eq!(
            result.reasons,
            [
                "breaking: function export `helper` was removed",
                "breaking: new host import `env.now` (function () -> (i64))"
            ]
        );
        let result = compat(
            r#"(module (import "env" "now" (func (result i64))) (func (export "_start")))"#,
            r#"(module (func (export "_start")))"#,
        );
        assert!(!result.breaking);
        assert_eq!(
            result.reasons,
            ["info: host import `env.now` is no longer needed"]
        );
    }

    #[test]
    fn compare_memory_growth_past_previous_maximum_is_breaking() {
        let result = compat(
            r#"(module (memory 1 2) (func (export "_start")))"#,
            r#"(module (memory 3 4) (func (export "_start")))"#,
        );
        assert!(result.breaking);
        assert_eq!(
            result.reasons,
            [
                "breaking: memory initial size of 3 pages exceeds the previous maximum of 2 pages",
                "info: memory maximum changed from 2 pages to 4 pages"
            ]
        );
    }

    /// Cuts `bytes` into chunks of random sizes (including many 1-byte chunks).
    fn cuts() -> impl Strategy<Value = Vec<usize>> {
        prop::collection::vec(prop_oneof![Just(1usize), 1usize..8, 1usize..300], 1..40)
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_report(index in 0..4usize, cuts in cuts()) {
            let bytes = &FIXTURES[index];
            let whole = inspect(bytes, limits("_start")).unwrap();
            let streamed = inspect_chunked(bytes, &cuts, limits("_start")).unwrap();
            prop_assert_eq!(whole, streamed);
        }

        #[test]
        fn random_bytes_agree_between_paths(
            header in any::<bool>(),
            tail in prop::collection::vec(any::<u8>(), 0..400),
            cuts in cuts(),
        ) {
            let mut bytes = if header { b"\0asm\x01\0\0\0".to_vec() } else { Vec::new() };
            bytes.extend_from_slice(&tail);
            let whole = inspect(&bytes, limits("_start"));
            let streamed = inspect_chunked(&bytes, &cuts, limits("_start"));
            prop_assert_eq!(whole.map_err(|e| e.code()), streamed.map_err(|e| e.code()));
        }

        #[test]
        fn mutated_modules_agree_between_paths(
            index in 0..4usize,
            position in any::<prop::sample::Index>(),
            value in any::<u8>(),
            cuts in cuts(),
        ) {
            let mut bytes = FIXTURES[index].clone();
            let at = position.index(bytes.len());
            bytes[at] = value;
            let whole = inspect(&bytes, limits("_start"));
            let streamed = inspect_chunked(&bytes, &cuts, limits("_start"));
            prop_assert_eq!(whole.map_err(|e| e.code()), streamed.map_err(|e| e.code()));
        }
    }
}
