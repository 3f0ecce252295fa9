//! `selector`: label selector parsing (`Selector::parse`, what a deployment's `selector` goes
//! through) and label validation (what a node's labels go through).
//!
//! Input (lossy UTF-8): the selector text, then optionally a NUL byte and label lines
//! `key=value` separated by `\n`.
//!
//! Checked, besides "never panics":
//! * a parsed selector's canonical `Display` form parses back to the same selector and is a
//!   fixed point; serde (which uses that form) round-trips; every requirement the parser built
//!   passes `Requirement::new`'s checks; matching any labels is the conjunction of its
//!   requirements;
//! * an error's position lies within the input;
//! * for every valid label `k=v`, the selectors `k=v`, `k`, `k in (v)` match the labels and
//!   `!k`, `k!=v` do not.
#![no_main]

use edgesync_core::selector::{
    Labels, Requirement, Selector, SelectorError, validate_label_key, validate_label_value,
    validate_labels,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (input, label_lines) = text.split_once('\0').unwrap_or((&text, ""));
    let labels: Labels = label_lines
        .split('\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (k, v) = line.split_once('=').unwrap_or((line, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();

    match Selector::parse(input) {
        Ok(selector) => check_selector(&selector, &labels),
        Err(e) => check_position(&e, input),
    }

    let labels_valid = validate_labels(&labels).is_ok();
    for (key, value) in &labels {
        let key_ok = validate_label_key(key)
            .map_err(|e| check_position(&e, key))
            .is_ok();
        let value_ok = validate_label_value(value)
            .map_err(|e| check_position(&e, value))
            .is_ok();
        assert!(!labels_valid || (key_ok && value_ok), "{key:?}={value:?}");
        if !(key_ok && value_ok) {
            continue;
        }
        let holds = |s: &str| -> bool {
            let selector = Selector::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            check_selector(&selector, &labels);
            selector.matches(&labels)
        };
        assert!(holds(&format!("{key}={value}")));
        assert!(holds(&format!("{key}=={value}")));
        assert!(holds(key));
        assert!(!holds(&format!("!{key}")));
        assert!(!holds(&format!("{key}!={value}")));
        if !value.is_empty() {
            assert!(holds(&format!("{key} in ({value})")));
            assert!(!holds(&format!("{key} notin ({value})")));
        }
    }
});

fn check_selector(selector: &Selector, labels: &Labels) {
    let canonical = selector.to_string();
    assert_eq!(
        Selector::parse(&canonical).as_ref(),
        Ok(selector),
        "canonical form {canonical:?} does not parse back"
    );
    let json = serde_json::to_string(selector).unwrap_or_else(|e| panic!("serialize: {e}"));
    let back: Selector = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(&back, selector);
    for r in selector.requirements() {
        let rebuilt = Requirement::new(r.key(), r.operator(), r.values().iter().cloned());
        assert_eq!(
            rebuilt.as_ref(),
            Ok(r),
            "the parser built what new() rejects"
        );
    }
    let expected = selector.requirements().iter().all(|r| r.matches(labels));
    assert_eq!(selector.matches(labels), expected);
    assert_eq!(selector.is_everything(), selector.requirements().is_empty());
}

fn check_position(error: &SelectorError, input: &str) {
    if let Some(position) = error.position {
        assert!(
            position <= input.len(),
            "error position {position} past the input ({} bytes): {error}",
            input.len()
        );
    }
}
