//! A batch of nftables commands and its byte-stable JSON form for `nft -j -f`.

use nftables::schema::{NfCmd, NfObject, Nftables};
use serde_json::{Map, Value};

/// A list of nftables commands that `nft -j -f` applies as one transaction: all of them or,
/// on any error, none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NftBatch {
    commands: Vec<NfCmd<'static>>,
}

impl NftBatch {
    pub(crate) fn push(&mut self, command: NfCmd<'static>) {
        self.commands.push(command);
    }

    /// The commands, in order.
    pub fn commands(&self) -> &[NfCmd<'static>] {
        &self.commands
    }

    /// Whether there is nothing to do (then the backend need not run `nft` at all).
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// This batch followed by `other`: still one transaction.
    #[must_use]
    pub fn then(mut self, other: NftBatch) -> NftBatch {
        self.commands.extend(other.commands);
        self
    }

    /// The document as the `nftables` crate models it.
    pub fn to_nftables(&self) -> Nftables<'static> {
        Nftables {
            objects: self
                .commands
                .iter()
                .cloned()
                .map(NfObject::CmdObject)
                .collect::<Vec<_>>()
                .into(),
        }
    }

    /// Pretty JSON for `nft -j -f`, byte-for-byte the same for the same batch.
    ///
    /// The crate keeps set flags in a `HashSet`, whose iteration order changes from run to
    /// run, and whether `serde_json` keeps field order depends on a feature another crate of
    /// the workspace may switch on. So the document is canonicalised: object keys sorted,
    /// `flags` arrays sorted (nft reads JSON objects by key, so the order means nothing to
    /// it), and null properties of set element objects left out.
    pub fn to_json(&self) -> String {
        // Serialising these plain data types cannot fail: every map key is a string.
        let value = serde_json::to_value(self.to_nftables()).expect("nftables documents serialise");
        let mut text = serde_json::to_string_pretty(&canonical(value))
            .expect("a serde_json::Value serialises");
        text.push('\n');
        text
    }
}

fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = Map::new();
            for (key, value) in entries {
                let mut value = canonical(value);
                match (key.as_str(), &mut value) {
                    ("flags", Value::Array(flags)) => flags.sort_by_key(|f| f.to_string()),
                    // The crate writes `"expires": null, "comment": null, "counter": null` in
                    // every set element object. nft 1.0.6 reads null as absent, but a null
                    // counter is not a counter statement, and newer parsers may say so; absent
                    // is what the schema means, so drop them.
                    ("elem", Value::Object(elem)) => elem.retain(|_, v| !v.is_null()),
                    _ => {}
                }
                out.insert(key, value);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}
