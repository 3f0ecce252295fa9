//! JSON request bodies held to their documented schema.
//!
//! poem-openapi's [`Json`] reads `null` as "absent" and turns numbers and booleans into strings,
//! so bodies the OpenAPI document forbids (`{"name": false}`, `{"grace_s": null}`) would be
//! accepted and acted on. [`JsonBody`] is documented exactly as [`Json`] and parsed by it, after
//! refusing those two things with 400 `invalid_request`, naming the field.
//!
//! [`TypedJsonBody`] (heartbeats) accepts and refuses exactly what [`JsonBody`] does, but reads
//! a body that cannot differ (no `null`, arrays only where the type has them) with serde
//! straight into its type.

use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::error::ParseRequestPayloadError;
use poem_openapi::impl_apirequest_for_payload;
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A JSON request body of type `T`, with no `null` the schema does not allow and no number or
/// boolean where it wants a string.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// Documents a body wrapper exactly as poem-openapi's [`Json`] of the same type.
macro_rules! json_payload {
    ($body:ident) => {
        impl<T: Type> Payload for $body<T> {
            const CONTENT_TYPE: &'static str = Json::<T>::CONTENT_TYPE;

            fn check_content_type(content_type: &str) -> bool {
                Json::<T>::check_content_type(content_type)
            }

            fn schema_ref() -> MetaSchemaRef {
                T::schema_ref()
            }

            fn register(registry: &mut Registry) {
                T::register(registry);
            }
        }
    };
}

json_payload!(JsonBody);

impl<T: ParseFromJSON> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        parse_checked(&data).map(Self)
    }
}

impl_apirequest_for_payload!(JsonBody<T>, T: ParseFromJSON);

/// `data` as a `T`, refused (naming the field) where it holds a `null` the schema does not allow
/// or a number or boolean where it wants a string.
fn parse_checked<T: ParseFromJSON>(data: &[u8]) -> poem::Result<T> {
    let invalid = |reason: String| ParseRequestPayloadError { reason };
    let value: Value = if data.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(data).map_err(|e| invalid(e.to_string()))?
    };
    if let Some(reason) = mismatch(&value, &T::schema_ref(), registry_of::<T>()) {
        return Err(invalid(reason).into());
    }
    T::parse_from_json(Some(value)).map_err(|e| invalid(e.into_message()).into())
}

/// [`JsonBody`] for the small bodies nodes send many times a second (heartbeats): a body with no
/// `null` in it, and arrays only where `T` has them, is deserialized straight into `T` by serde,
/// without the intermediate [`Value`] tree, the schema walk and poem's conversion; any other
/// body, and any body serde refuses, takes [`JsonBody`]'s path, whose errors it answers with.
#[derive(Debug)]
pub struct TypedJsonBody<T>(pub T);

/// A body type [`TypedJsonBody`] may read with serde: one whose serde and OpenAPI forms agree
/// (`deny_unknown_fields` on both sides, the same defaults, no validators, no `Value` fields),
/// so that a body serde accepts is one the checked path accepts with the same value
/// (`the_typed_path_agrees_with_the_checked_one`).
pub trait TypedBody: ParseFromJSON + DeserializeOwned {
    /// The fields, at any depth, whose values are arrays. serde also reads a struct from an
    /// array (its fields by position), which the schema refuses; a body with an array anywhere
    /// else takes the checked path.
    const ARRAY_FIELDS: &'static [&'static str];
}

impl TypedBody for edgesync_wire::ReportedState {
    const ARRAY_FIELDS: &'static [&'static str] = &["functions"];
}

json_payload!(TypedJsonBody);

impl<T: TypedBody> ParsePayload for TypedJsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        parse_typed(&data).map(Self)
    }
}

impl_apirequest_for_payload!(TypedJsonBody<T>, T: TypedBody);

/// `data` as a `T`: by serde when it holds no `null` (which serde would read as an absent
/// optional field, and the schema refuses) and arrays only under `T::ARRAY_FIELDS`, and serde
/// takes it; otherwise [`parse_checked`].
fn parse_typed<T: TypedBody>(data: &[u8]) -> poem::Result<T> {
    let has_null = data.windows(4).any(|w| w == b"null");
    if !has_null
        && arrays_only_under(data, T::ARRAY_FIELDS)
        && let Ok(parsed) = serde_json::from_slice(data)
    {
        return Ok(parsed);
    }
    parse_checked(data)
}

/// Whether every array in the JSON text `data` is the value of a key named in `fields` (keys
/// compared as written, so an escaped key counts as another one). Strings are skipped; the text
/// is not otherwise checked (serde does that).
fn arrays_only_under(data: &[u8], fields: &[&str]) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    let mut string_start = 0;
    let mut last_string: &[u8] = &[];
    let mut key: &[u8] = &[];
    // The last byte outside strings that is not whitespace (`"` for a string's end).
    let mut prev = 0u8;
    for (i, &b) in data.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                last_string = &data[string_start..i];
                prev = b'"';
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                string_start = i + 1;
            }
            b':' => {
                if prev == b'"' {
                    key = last_string;
                }
                prev = b':';
            }
            b'[' => {
                if prev != b':' || !fields.iter().any(|f| f.as_bytes() == key) {
                    return false;
                }
                prev = b'[';
            }
            b' ' | b'\n' | b'\r' | b'\t' => {}
            _ => prev = b,
        }
    }
    true
}

/// The schemas `T` refers to, built once per body type (heartbeats parse one per request).
fn registry_of<T: Type>() -> &'static Registry {
    static REGISTRIES: OnceLock<RwLock<HashMap<&'static str, &'static Registry>>> = OnceLock::new();
    let registries = REGISTRIES.get_or_init(RwLock::default);
    let id = std::any::type_name::<T>();
    if let Some(&registry) = registries
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&id)
    {
        return registry;
    }
    let mut registry = Registry::new();
    T::register(&mut registry);
    let mut registries = registries.write().unwrap_or_else(PoisonError::into_inner);
    match registries.get(id) {
        Some(&stored) => stored,
        None => {
            // One small registry per request body type, kept for the life of the process.
            let registry: &'static Registry = Box::leak(Box::new(registry));
            registries.insert(id, registry);
            registry
        }
    }
}

/// Accepts anything: `serde_json::Value` fields, and the description-only half of a field that
/// refers to another schema.
fn is_any(schema: &MetaSchema) -> bool {
    schema.ty.is_empty()
        && schema.all_of.is_empty()
        && schema.any_of.is_empty()
        && schema.one_of.is_empty()
        && schema.properties.is_empty()
}

/// What is wrong where: the path is collected on the way back out of the walk, so a body that
/// matches (almost every one) allocates nothing for it.
struct Mismatch {
    /// Innermost first.
    path: Vec<Step>,
    problem: &'static str,
}

enum Step {
    Field(String),
    Item(usize),
}

impl Mismatch {
    fn new(problem: &'static str) -> Self {
        Self {
            path: Vec::new(),
            problem,
        }
    }

    fn within(mut self, step: Step) -> Self {
        self.path.push(step);
        self
    }

    /// "`a.b[0]` must …", or "the body must …".
    fn message(&self) -> String {
        if self.path.is_empty() {
            return format!("the body {}", self.problem);
        }
        let mut at = String::new();
        for step in self.path.iter().rev() {
            match step {
                Step::Field(key) if at.is_empty() => at.push_str(key),
                Step::Field(key) => {
                    at.push('.');
                    at.push_str(key);
                }
                Step::Item(i) => at.push_str(&format!("[{i}]")),
            }
        }
        format!("`{at}` {}", self.problem)
    }
}

/// The first place where `value` holds a `null` that `schema` does not allow, or a number or
/// boolean where it wants a string, as a message naming it.
fn mismatch(value: &Value, schema: &MetaSchemaRef, registry: &Registry) -> Option<String> {
    find_mismatch(value, schema, registry).map(|m| m.message())
}

fn find_mismatch(value: &Value, schema: &MetaSchemaRef, registry: &Registry) -> Option<Mismatch> {
    let schema = match schema {
        MetaSchemaRef::Inline(schema) => &**schema,
        MetaSchemaRef::Reference(name) => registry.schemas.get(name)?,
    };
    if value.is_null() {
        return (!schema.nullable && !is_any(schema)).then(|| Mismatch::new("must not be null"));
    }
    if let Some(found) = schema
        .all_of
        .iter()
        .find_map(|part| find_mismatch(value, part, registry))
    {
        return Some(found);
    }
    match value {
        Value::Bool(_) | Value::Number(_) if schema.ty == "string" => {
            Some(Mismatch::new("must be a string"))
        }
        Value::Object(fields) => fields.iter().find_map(|(key, field)| {
            let field_schema = schema
                .properties
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, s)| s)
                .or(schema.additional_properties.as_deref())?;
            find_mismatch(field, field_schema, registry).map(|m| m.within(Step::Field(key.clone())))
        }),
        Value::Array(items) => {
            let item_schema = schema.items.as_deref()?;
            items.iter().enumerate().find_map(|(i, item)| {
                find_mismatch(item, item_schema, registry).map(|m| m.within(Step::Item(i)))
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn check<T: Type>(value: Value) -> Option<String> {
        let mut registry = Registry::new();
        T::register(&mut registry);
        mismatch(&value, &T::schema_ref(), &registry)
    }

    #[test]
    fn nulls_and_non_strings_are_refused_where_the_schema_does_not_allow_them() {
        use edgesync_wire::{QueueCommandRequest, ReportedState, RotateApiKeyRequest};
        assert_eq!(check::<RotateApiKeyRequest>(json!({"grace_s": 60})), None);
        assert_eq!(
            check::<RotateApiKeyRequest>(json!({"grace_s": null})).as_deref(),
            Some("`grace_s` must not be null")
        );
        assert_eq!(
            check::<ReportedState>(json!({"resources": {"disk_bytes": null}})).as_deref(),
            Some("`resources.disk_bytes` must not be null")
        );
        assert_eq!(
            check::<ReportedState>(json!({"functions": [{"function_id": 7, "version": 1}]}))
                .as_deref(),
            Some("`functions[0].function_id` must be a string")
        );
        assert_eq!(
            check::<ReportedState>(json!(null)).as_deref(),
            Some("the body must not be null")
        );
        // `payload` is any JSON, `null` included.
        assert_eq!(
            check::<QueueCommandRequest>(json!({"kind": "flush_cache", "payload": null})),
            None
        );
    }

    /// Both paths' answers for `body`, comparable (errors by message).
    fn both(body: &[u8]) -> (Result<ReportedState, String>, Result<ReportedState, String>) {
        (
            parse_typed::<ReportedState>(body).map_err(|e| e.to_string()),
            parse_checked::<ReportedState>(body).map_err(|e| e.to_string()),
        )
    }

    use edgesync_wire::ReportedState;

    #[test]
    fn arrays_are_found_outside_strings_and_named_by_their_key() {
        let functions = &["functions"];
        assert!(arrays_only_under(
            br#"{"functions": [{"a":1}], "b": "[x"}"#,
            functions
        ));
        assert!(arrays_only_under(br#"{"s": "\"functions\":["}"#, functions));
        assert!(!arrays_only_under(br#"[]"#, functions));
        assert!(!arrays_only_under(br#"{"resources": []}"#, functions));
        assert!(!arrays_only_under(br#"{"functions": [[1]]}"#, functions));
        assert!(!arrays_only_under(
            br#"{"functions": [{"x": [1]}]}"#,
            functions
        ));
    }

    #[test]
    fn the_typed_path_agrees_with_the_checked_one() {
        let id = "6f1c9a52-3c2e-4a57-9d0e-2b8f6f1f4e11";
        let bodies = [
            r#"{"resources":{"cpu_percent":3.5,"memory_bytes":104857600}}"#.to_owned(),
            "{}".to_owned(),
            " { } ".to_owned(),
            String::new(),
            "null".to_owned(),
            "[]".to_owned(),
            "7".to_owned(),
            r#"{"resources":{"cpu_percent":1}}"#.to_owned(),
            r#"{"resources":{"memory_bytes":1.5}}"#.to_owned(),
            r#"{"resources":{"memory_bytes":-1}}"#.to_owned(),
            r#"{"resources":{"memory_bytes":18446744073709551616}}"#.to_owned(),
            r#"{"resources":{"disk_bytes":null}}"#.to_owned(),
            r#"{"resources":{"gpu":1}}"#.to_owned(),
            r#"{"unknown":1}"#.to_owned(),
            r#"{"schema_version":3,"schema_version":4}"#.to_owned(),
            r#"{"schema_version":"3"}"#.to_owned(),
            r#"{"routes_revision":7}"#.to_owned(),
            r#"{"routes_revision":"r\u00e9v \"1\""}"#.to_owned(),
            r#"{"sync_revision":"nullish"}"#.to_owned(),
            format!(r#"{{"functions":[{{"function_id":"{id}","version":2}}]}}"#),
            format!(r#"{{"functions":[{{"function_id":"{}","version":2}}]}}"#, id.replace('-', "")),
            format!(r#"{{"functions":[{{"function_id":"{id}","version":4294967296}}]}}"#),
            format!(r#"{{"functions":[{{"function_id":"{id}"}}]}}"#),
            r#"{"functions":[{"function_id":"not-a-uuid","version":1}]}"#.to_owned(),
            r#"{"functions":[{"function_id":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],"version":1}]}"#.to_owned(),
            r#"{"functions":{}}"#.to_owned(),
            r#"{"schema_version":1} trailing"#.to_owned(),
            r#"{"resources":[]}"#.to_owned(),
            r#"{"resources":[1.5,2,3]}"#.to_owned(),
            format!(r#"{{"functions":[["{id}",2]]}}"#),
            format!(r#"{{"functions":[{{"function_id":"{id}","version":2}}],"routes_revision":"[\"functions\":["}}"#),
            r#"{"resources":{"functions":[]}}"#.to_owned(),
            r#"{"function\u0073":[]}"#.to_owned(),
        ];
        for body in &bodies {
            let (typed, checked) = both(body.as_bytes());
            assert_eq!(typed, checked, "body {body}");
        }
    }

    proptest::proptest! {
        /// Bodies built from the real fields, unknown ones, and values of every JSON type in
        /// every place: whatever the typed path accepts, the checked path accepts the same.
        #[test]
        fn the_typed_path_agrees_on_generated_bodies(body in reported_state_body()) {
            let (typed, checked) = both(body.as_bytes());
            proptest::prop_assert_eq!(typed, checked, "body {}", body);
        }
    }

    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            Just(json!("6f1c9a52-3c2e-4a57-9d0e-2b8f6f1f4e11")),
            "[a-z]{0,6}".prop_map(Value::from),
            Just(json!([])),
            Just(json!([1.5, 2, 3])),
            Just(json!([["6f1c9a52-3c2e-4a57-9d0e-2b8f6f1f4e11", 1]])),
            Just(json!({})),
        ]
    }

    fn reported_state_body() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let resources = proptest::collection::vec(
            (
                prop_oneof![
                    Just("cpu_percent"),
                    Just("memory_bytes"),
                    Just("disk_bytes"),
                    Just("other")
                ],
                any_json(),
            ),
            0..4,
        )
        .prop_map(|fields| {
            let mut o = serde_json::Map::new();
            for (k, v) in fields {
                o.insert(k.to_owned(), v);
            }
            Value::Object(o)
        });
        let function = (
            prop_oneof![
                Just(json!("6f1c9a52-3c2e-4a57-9d0e-2b8f6f1f4e11")),
                any_json()
            ],
            prop_oneof![(0u64..10).prop_map(Value::from), any_json()],
            any::<bool>(),
        )
            .prop_map(|(id, version, extra)| {
                let mut f = json!({"function_id": id, "version": version});
                if extra {
                    f["x"] = json!(1);
                }
                f
            });
        let field = prop_oneof![
            resources.prop_map(|r| ("resources", r)),
            any_json().prop_map(|v| ("resources", v)),
            proptest::collection::vec(function, 0..3).prop_map(|f| ("functions", Value::from(f))),
            any_json().prop_map(|v| ("functions", v)),
            any_json().prop_map(|v| ("schema_version", v)),
            any_json().prop_map(|v| ("routes_revision", v)),
            any_json().prop_map(|v| ("sync_revision", v)),
            any_json().prop_map(|v| ("unknown", v)),
        ];
        proptest::collection::vec(field, 0..5).prop_map(|fields| {
            let mut o = serde_json::Map::new();
            for (k, v) in fields {
                o.insert(k.to_owned(), v);
            }
            Value::Object(o).to_string()
        })
    }
}
