//! JSON request bodies held to their documented schema.
//!
//! poem-openapi's [`Json`] reads `null` as "absent" and turns numbers and booleans into strings,
//! so bodies the OpenAPI document forbids (`{"name": false}`, `{"grace_s": null}`) would be
//! accepted and acted on. [`JsonBody`] is documented exactly as [`Json`] and parsed by it, after
//! refusing those two things with 400 `invalid_request`, naming the field.

use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::error::ParseRequestPayloadError;
use poem_openapi::impl_apirequest_for_payload;
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use serde_json::Value;

/// A JSON request body of type `T`, with no `null` the schema does not allow and no number or
/// boolean where it wants a string.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: Type> Payload for JsonBody<T> {
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

impl<T: ParseFromJSON> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        let invalid = |reason: String| ParseRequestPayloadError { reason };
        let value: Value = if data.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&data).map_err(|e| invalid(e.to_string()))?
        };
        if let Some(reason) = mismatch(&value, &T::schema_ref(), registry_of::<T>()) {
            return Err(invalid(reason).into());
        }
        T::parse_from_json(Some(value))
            .map(Self)
            .map_err(|e| invalid(e.into_message()).into())
    }
}

impl_apirequest_for_payload!(JsonBody<T>, T: ParseFromJSON);

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
}
