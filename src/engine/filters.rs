//! Docker's list filters (`filters={"label":{"a=b":true},"status":["running"]}`): parsing, and
//! the one matching rule every list (containers, images, volumes, networks, events, prunes)
//! shares, so that none drifts: the values of one key are alternatives (any may match), except
//! `label`, whose values must all match, as in dockerd.

use std::collections::HashMap;

use super::error::{Error, Result};

/// Filter key → the values given for it.
pub type FilterMap = HashMap<String, Vec<String>>;

/// Parse Docker's `filters` query parameter; both the map and the list shape.
pub fn parse(raw: Option<&str>) -> Result<FilterMap> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(HashMap::new());
    };
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| Error::invalid(format!("invalid filters: {e}")))?;
    let mut out = HashMap::new();
    if let Some(obj) = value.as_object() {
        for (k, v) in obj {
            let vals: Vec<String> = match v {
                serde_json::Value::Object(m) => m.keys().cloned().collect(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                _ => return Err(Error::invalid(format!("invalid filter value for {k}"))),
            };
            out.insert(k.clone(), vals);
        }
    }
    Ok(out)
}

/// Whether every key of `filters` holds for an object, `matches(key, value)` deciding one value.
pub fn all_match(filters: &FilterMap, mut matches: impl FnMut(&str, &str) -> bool) -> bool {
    filters.iter().all(|(key, values)| {
        if key == "label" {
            values.iter().all(|v| matches(key, v))
        } else {
            values.iter().any(|v| matches(key, v))
        }
    })
}

/// One `label=` filter value (`key` or `key=value`) against an object's labels.
pub fn label_matches<'a>(filter: &str, get: impl Fn(&str) -> Option<&'a str>) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => get(k) == Some(v),
        None => get(filter).is_some(),
    }
}

/// Every `label=` filter against a label map (for the lists that only filter on labels).
pub fn labels_match<'a>(filters: &FilterMap, get: impl Fn(&str) -> Option<&'a str>) -> bool {
    filters
        .get("label")
        .is_none_or(|ls| ls.iter().all(|l| label_matches(l, &get)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_parse() {
        let f = parse(Some(r#"{"label":{"a=b":true},"status":["running"]}"#)).unwrap();
        assert_eq!(f["label"], vec!["a=b"]);
        assert_eq!(f["status"], vec!["running"]);
        assert!(parse(Some(r#"{"label":1}"#)).is_err());
    }

    #[test]
    fn every_label_must_match_but_other_values_are_alternatives() {
        let labels: HashMap<String, String> =
            [("a".to_string(), "1".to_string())].into_iter().collect();
        let get = |k: &str| labels.get(k).map(String::as_str);
        let f = parse(Some(r#"{"label":["a=1","b"]}"#)).unwrap();
        assert!(!all_match(&f, |_, v| label_matches(v, get)));
        assert!(!labels_match(&f, get));
        let f = parse(Some(r#"{"label":["a=1","a"]}"#)).unwrap();
        assert!(all_match(&f, |_, v| label_matches(v, get)));
        let f = parse(Some(r#"{"status":["running","exited"]}"#)).unwrap();
        assert!(all_match(&f, |_, v| v == "exited"));
    }
}
