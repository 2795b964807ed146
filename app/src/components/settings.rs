//! One setting of a policy form (the guard's, the fraud policy), edited as its kind says:
//! a number, a signed number, a switch, a word from a list, a line of text, or lines.

use leptos::prelude::*;

use wire::guard::GuardSettingView;

/// One setting, posted as `values[<path>]`; `prefix` makes its element id unique on the
/// page (`g`, `f`).
#[component]
pub fn Setting(setting: GuardSettingView, admin: bool, prefix: &'static str) -> impl IntoView {
    let name = format!("values[{}]", setting.path);
    let id = format!("{prefix}-{}", setting.path.replace('.', "-"));
    let input = match setting.kind.as_str() {
        "switch" => view! {
            <input type="checkbox" id=id.clone() name=name value="true" checked=setting.value == "true" disabled=!admin />
        }
        .into_any(),
        "lines" => view! {
            <textarea id=id.clone() name=name rows="6" disabled=!admin>{setting.value}</textarea>
        }
        .into_any(),
        "choice" => {
            let value = setting.value.clone();
            view! {
                <select id=id.clone() name=name disabled=!admin>
                    {setting.options.into_iter().map(|o| {
                        let selected = o == value;
                        view! { <option value=o.clone() selected=selected>{o.clone()}</option> }
                    }).collect_view()}
                </select>
            }
            .into_any()
        }
        "text" => view! {
            <input type="text" id=id.clone() name=name value=setting.value maxlength="64" disabled=!admin />
        }
        .into_any(),
        "integer" => view! {
            <input type="number" id=id.clone() name=name step="1" value=setting.value disabled=!admin />
        }
        .into_any(),
        _ => view! {
            <input type="number" id=id.clone() name=name min="0" step="1" value=setting.value disabled=!admin />
        }
        .into_any(),
    };
    view! {
        <label for=id title=setting.path.clone()>
            <span>{setting.label}</span>
            {input}
            <small class="hint">{setting.help}</small>
        </label>
    }
}
