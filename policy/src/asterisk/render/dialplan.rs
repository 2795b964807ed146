//! `extensions.conf`: extension numbers mapped to endpoint ids, calling classes, call
//! limits in both directions, DID-only trunk contexts and an inert `[default]`.
//!
//! Context layout:
//! - `sw-local`: one entry per extension; checks the callee's limit and dials its id.
//! - `sw-dial-local`, `-emergency`, `-national`, `-international`: what a class may reach.
//! - `sw-class-*`: the context of each endpoint, including the `sw-dial-*` its class allows.
//! - `sw-trunk-<name>`: exact DIDs of that trunk only, nothing included.
//! - `sw-fraud-decision`, `sw-fraud-end`: with a decision point, every national and
//!   international call asks sipwarden before `Dial` and tells it when it hangs up.
//! - `default`: hangs up. Nothing billable is reachable from it.

use super::Revision;
use super::Target;
use super::writer::ConfWriter;
use crate::asterisk::CUSTOM_DIALPLAN_HOOKS;
use crate::asterisk::decision::{DecisionPoint, FailMode, VERDICT_VARIABLE};
use crate::asterisk::endpoint::CallingClass;
use crate::asterisk::names::DialPattern;
use crate::asterisk::pbx::PbxModel;
use crate::asterisk::trunk::Trunk;

/// The context every extension lives in.
pub const CONTEXT_LOCAL: &str = "sw-local";
/// The `GROUP()` category the per-endpoint call limit counts in.
pub const CALL_GROUP_CATEGORY: &str = "sw_calls";

const RING_SECONDS: u32 = 30;
const OUTBOUND_RING_SECONDS: u32 = 60;

fn dial_endpoint(target: Target, id: &str) -> String {
    match target {
        Target::Asterisk22Pjsip => format!("PJSIP/{id}"),
        Target::LegacyChanSip => format!("SIP/{id}"),
    }
}

/// The dial string for a number through the outbound trunk. `FILTER(0-9,...)` because a
/// pattern ending in `.` also matches `&` and `/`, which would let a caller add channels to
/// Dial (the injection described in README-SERIOUSLY.bestpractices.md).
fn dial_out(target: Target, trunk: &Trunk, number: Option<&str>) -> String {
    let number = number.map_or_else(|| "${FILTER(0-9,${EXTEN})}".to_owned(), str::to_owned);
    match target {
        Target::Asterisk22Pjsip => format!("PJSIP/{number}@{}", trunk.name()),
        Target::LegacyChanSip => format!("SIP/{}/{number}", trunk.name()),
    }
}

fn render_support(w: &mut ConfWriter) {
    w.section("general");
    w.set("static", "yes");
    w.comment("Stops 'dialplan save' from overwriting this file from the CLI.");
    w.set("writeprotect", "yes");
    w.set("clearglobalvars", "yes");

    w.section("default");
    w.comment("Guests and anything without a context land here: reject, reach nothing (step 7).");
    w.object("exten", "_X.,1,Hangup(21)");
    w.object("exten", "s,1,Hangup(21)");

    w.section("sw-busy");
    w.object("exten", "s,1,Busy(5)");

    w.section("sw-caller-limit");
    w.comment("Gosub'd by every call an endpoint places: puts the caller's channel in its group,");
    w.comment("then refuses the call if the endpoint is over its limit. SW_EP and SW_MAXCALLS are");
    w.comment("set by the endpoint definition itself, never by the caller (step 5).");
    w.object("exten", "s,1,GotoIf($[\"${SW_EP}\" = \"\"]?refuse)");
    w.object(
        "same",
        &format!("n,Set(GROUP({CALL_GROUP_CATEGORY})=${{SW_EP}})"),
    );
    w.object(
        "same",
        &format!("n,GotoIf($[${{GROUP_COUNT(${{SW_EP}}@{CALL_GROUP_CATEGORY})}} > ${{SW_MAXCALLS}}]?refuse)"),
    );
    w.object("same", "n,Return()");
    w.object("same", "n(refuse),Congestion(5)");

    w.section("sw-callee-group");
    w.comment("Run by Dial's b() option on the callee's channel, so calls an endpoint receives");
    w.comment("count toward its limit too.");
    w.object(
        "exten",
        &format!("s,1,Set(GROUP({CALL_GROUP_CATEGORY})=${{ARG1}})"),
    );
    w.object("same", "n,Return()");
}

/// The pre-call decision (#15): FastAGI to sipwarden with who calls (`SW_EP`, `SW_CLASS`,
/// set by the endpoint's definition), the trunk, the number and the address the call came
/// from. sipwarden answers by setting `SW_FRAUD`; only when it cannot be reached at all
/// (`AGISTATUS` is `FAILURE`: not running, refused connection) does the class's fail mode
/// decide. A connection that ends without a verdict is refused: a caller must not be able
/// to make sipwarden fall silent and so fail open. Hangup(21) is "call rejected": a 403 to
/// the phone. The hang-up handler that tells sipwarden how the call ended (Dial's status
/// and answered seconds; its concurrency count and its call record) is pushed before the
/// question, so a call cancelled while it is asked is still told.
fn render_decision(w: &mut ConfWriter, point: &DecisionPoint, target: Target) {
    let agi = format!("agi://{}", point.address);
    let source = match target {
        Target::Asterisk22Pjsip => "${CHANNEL(pjsip,remote_addr)}",
        Target::LegacyChanSip => "${CHANNEL(recvip)}",
    };
    w.section("sw-fraud-decision");
    w.comment(
        "ARG1: trunk, ARG2: number dialled, ARG3: open or closed when sipwarden does not answer.",
    );
    w.object("exten", &format!("s,1,Set({VERDICT_VARIABLE}=)"));
    w.object(
        "same",
        "n,Set(CHANNEL(hangup_handler_push)=sw-fraud-end,s,1)",
    );
    w.object(
        "same",
        &format!("n,AGI({agi}/decide,${{SW_EP}},${{SW_CLASS}},${{ARG1}},${{ARG2}},{source})"),
    );
    w.object(
        "same",
        &format!("n,GotoIf($[\"${{{VERDICT_VARIABLE}}}\" = \"allow\"]?allow)"),
    );
    w.object(
        "same",
        &format!("n,GotoIf($[\"${{{VERDICT_VARIABLE}}}\" = \"block\"]?refuse)"),
    );
    w.object(
        "same",
        "n,GotoIf($[\"${AGISTATUS}\" != \"FAILURE\"]?refuse)",
    );
    w.object("same", "n,GotoIf($[\"${ARG3}\" = \"open\"]?allow)");
    w.object("same", "n(refuse),Hangup(21)");
    w.object("same", "n(allow),Return()");

    w.section("sw-fraud-end");
    w.object(
        "exten",
        &format!("s,1,AGI({agi}/end,${{DIALSTATUS}},${{ANSWEREDTIME}})"),
    );
    w.object("same", "n,Return()");
}

fn fail_word(mode: FailMode) -> &'static str {
    match mode {
        FailMode::Open => "open",
        FailMode::Closed => "closed",
    }
}

fn render_local(w: &mut ConfWriter, model: &PbxModel, target: Target) {
    w.section(CONTEXT_LOCAL);
    w.comment("Extension numbers map to generated endpoint ids (step 6); the callee's own limit");
    w.comment("is checked before it rings (step 5).");
    for e in model.endpoints() {
        let ext = e.extension().as_str();
        let id = e.id().as_str();
        if !e.enabled() {
            w.object("exten", &format!("{ext},1,Hangup(21)"));
            continue;
        }
        w.object(
            "exten",
            &format!(
                "{ext},1,GotoIf($[${{GROUP_COUNT({id}@{CALL_GROUP_CATEGORY})}} >= {}]?sw-busy,s,1)",
                e.max_calls().get()
            ),
        );
        w.object(
            "same",
            &format!(
                "n,Dial({},{RING_SECONDS},b(sw-callee-group^s^1({id})))",
                dial_endpoint(target, id)
            ),
        );
        w.object("same", "n,Hangup()");
    }

    w.section("sw-dial-local");
    for e in model.endpoints() {
        let ext = e.extension().as_str();
        w.object("exten", &format!("{ext},1,Gosub(sw-caller-limit,s,1)"));
        w.object("same", &format!("n,Goto({CONTEXT_LOCAL},{ext},1)"));
    }
}

fn render_outbound(w: &mut ConfWriter, model: &PbxModel, target: Target) {
    let trunk = model.outbound_trunk();
    w.section("sw-dial-emergency");
    w.comment("Emergency calls skip the call limit: a limit must never block them.");
    if let Some(trunk) = trunk {
        for number in model.policy().emergency_numbers() {
            let n = number.as_str();
            w.object(
                "exten",
                &format!(
                    "{n},1,Dial({},{OUTBOUND_RING_SECONDS})",
                    dial_out(target, trunk, Some(n))
                ),
            );
            w.object("same", "n,Hangup()");
        }
    }

    let point = model.decision_point();
    let classes: [(&str, &[DialPattern], Option<FailMode>); 2] = [
        (
            "sw-dial-national",
            model.policy().national_patterns(),
            point.map(|p| p.fail_national),
        ),
        (
            "sw-dial-international",
            model.policy().international_patterns(),
            point.map(|p| p.fail_international),
        ),
    ];
    for (context, patterns, fail) in classes {
        w.section(context);
        let Some(trunk) = trunk else {
            w.comment("No outbound trunk: nothing to reach.");
            continue;
        };
        for pattern in patterns {
            w.object("exten", &format!("{pattern},1,Gosub(sw-caller-limit,s,1)"));
            if let Some(fail) = fail {
                w.object(
                    "same",
                    &format!(
                        "n,Gosub(sw-fraud-decision,s,1({},${{FILTER(0-9,${{EXTEN}})}},{}))",
                        trunk.name(),
                        fail_word(fail)
                    ),
                );
            }
            w.object(
                "same",
                &format!(
                    "n,Dial({},{OUTBOUND_RING_SECONDS})",
                    dial_out(target, trunk, None)
                ),
            );
            w.object("same", "n,Hangup()");
        }
    }
}

fn render_classes(w: &mut ConfWriter, model: &PbxModel) {
    let custom = model.policy().custom_dialplan();
    w.comment("");
    w.comment("Calling classes: an endpoint's context includes only what its class may dial.");
    for class in CallingClass::ALL {
        w.section(class.context());
        w.object("include", "sw-dial-local");
        w.object("include", "sw-dial-emergency");
        if matches!(class, CallingClass::National | CallingClass::International) {
            w.object("include", "sw-dial-national");
        }
        if *class == CallingClass::International {
            w.object("include", "sw-dial-international");
        }
        // Last, so sipwarden's extensions and emergency numbers always match first.
        let hooks = match class {
            CallingClass::Internal => &CUSTOM_DIALPLAN_HOOKS[..1],
            CallingClass::National => &CUSTOM_DIALPLAN_HOOKS[..2],
            CallingClass::International => &CUSTOM_DIALPLAN_HOOKS[..],
        };
        for hook in hooks.iter().filter(|h| custom.defines(h)) {
            w.object("include", hook);
        }
    }
}

/// The administrator's contexts, from their checked lines (see `CustomDialplan`).
fn render_custom(w: &mut ConfWriter, model: &PbxModel) {
    let custom = model.policy().custom_dialplan();
    if custom.is_empty() {
        return;
    }
    w.comment("");
    w.comment("The administrator's own dialplan (policy custom_dialplan), checked: it reaches");
    w.comment("no trunk and runs nothing outside its allow-list; calls to extensions go through");
    w.comment("sw-dial-local and the caller's limit.");
    for (name, lines) in custom.sections() {
        w.section(name);
        for (key, value) in lines {
            w.object(key, &value);
        }
    }
}

fn render_trunks(w: &mut ConfWriter, model: &PbxModel) {
    for t in model.trunks() {
        w.section(&t.context());
        w.comment("Exact DIDs only, no includes: a trunk call can never reach an outbound route (step 7).");
        for route in t.dids() {
            w.object(
                "exten",
                &format!(
                    "{},1,Goto({CONTEXT_LOCAL},{},1)",
                    route.did(),
                    route.extension()
                ),
            );
        }
    }
}

pub(crate) fn render_extensions(model: &PbxModel, target: Target, revision: Revision) -> String {
    let mut w = ConfWriter::new(
        "extensions.conf",
        revision,
        400 * model.endpoints().len() + 8192,
    );
    render_support(&mut w);
    if let Some(point) = model.decision_point() {
        render_decision(&mut w, point, target);
    }
    render_local(&mut w, model, target);
    render_outbound(&mut w, model, target);
    render_classes(&mut w, model);
    render_trunks(&mut w, model);
    render_custom(&mut w, model);
    w.finish()
}
