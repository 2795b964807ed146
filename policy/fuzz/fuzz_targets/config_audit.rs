//! Feeds arbitrary bytes into the audit and the import of an existing configuration: split on
//! 0x1E into the files they read (and two that they may include), with includes, templates
//! and additions in play. A report or an error naming file and line; an import whose objects
//! form a model sipwarden renders; nothing may panic.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use policy::asterisk::{GlobalPolicy, PbxModel, PolicySettings, Revision, Target, render};
use rand::SeedableRng;
use rand::rngs::StdRng;

const NAMES: [&str; 7] = [
    "sip.conf",
    "pjsip.conf",
    "manager.conf",
    "extensions.conf",
    "logger.conf",
    "custom.conf",
    "conf.d/a.conf",
];

fuzz_target!(|data: &[u8]| {
    let files: BTreeMap<String, String> = data
        .split(|&b| b == 0x1e)
        .zip(NAMES)
        .map(|(bytes, name)| (name.to_owned(), String::from_utf8_lossy(bytes).into_owned()))
        .collect();
    if let Err(e) = policy::audit::audit(&files) {
        assert!(e.line >= 1 && NAMES.contains(&e.file.as_str()), "{e}");
    }
    let mut rng = StdRng::seed_from_u64(1);
    let Ok(policy) = GlobalPolicy::new(PolicySettings::default(), &mut rng) else {
        return;
    };
    let options = policy::import::ImportOptions::default();
    if let Ok(plan) = policy::import::plan(&files, &policy, &options, &mut rng) {
        let model = PbxModel::new(
            policy,
            plan.endpoints.into_iter().map(|e| e.object).collect(),
            plan.trunks.into_iter().map(|t| t.object).collect(),
            plan.ami_users.into_iter().map(|a| a.object.user).collect(),
        )
        .expect("an import's objects always form a model");
        let _ = render(&model, Target::Asterisk22Pjsip, Revision::new(1));
    }
});
