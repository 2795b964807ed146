//! A page's live stream (Server-Sent Events) and the marker that says whether it is
//! connected. The events page and the dashboard each follow one stream; the marker tells the
//! administrator whether what they see is still live (the browser reconnects by itself after
//! a restart or a dropped connection, and the marker follows it).

use leptos::prelude::*;

/// Where a page's stream stands.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(feature = "hydrate"),
    expect(
        dead_code,
        reason = "only the browser's stream sets it; the server renders `None`"
    )
)]
enum Link {
    Connecting,
    Open,
    /// Refused (the session ended, the server is gone for good): the browser gave up.
    Closed,
}

/// The state of the page's stream. `None` until the page is hydrated: without JavaScript
/// there is no stream, and the marker shows nothing.
#[derive(Clone, Copy)]
pub struct LiveState(RwSignal<Option<Link>>);

impl LiveState {
    pub fn new() -> Self {
        Self(RwSignal::new(None))
    }
}

impl Default for LiveState {
    fn default() -> Self {
        Self::new()
    }
}

/// "live" while the stream is open, "reconnecting" while the browser retries, "not live"
/// once it gave up. Its `data-live` attribute is what browser tests wait for before they
/// cause an event.
#[component]
pub fn LiveMarker(state: LiveState) -> impl IntoView {
    move || {
        state.0.get().map(|link| match link {
            Link::Open => view! {
                <span class="live-marker open" data-live="open">"● live"</span>
            }
            .into_any(),
            Link::Connecting => view! {
                <span class="live-marker" data-live="connecting" title="The browser retries by itself">"○ reconnecting…"</span>
            }
            .into_any(),
            Link::Closed => view! {
                <span class="live-marker closed" data-live="closed">"○ not live: reload the page"</span>
            }
            .into_any(),
        })
    }
}

/// Follows the stream at `url` for as long as the current reactive owner lives: `on_message`
/// gets each message named `name`, and `state` follows the connection.
#[cfg(feature = "hydrate")]
pub fn follow(
    url: &str,
    name: &str,
    state: LiveState,
    on_message: impl FnMut(web_sys::MessageEvent) + 'static,
) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let Ok(source) = web_sys::EventSource::new(url) else {
        return;
    };
    state.0.set(Some(Link::Connecting));
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(on_message);
    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| state.0.set(Some(Link::Open)));
    // An error while the browser retries leaves the source connecting; a refusal closes it.
    let watched = source.clone();
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        let link = if watched.ready_state() == web_sys::EventSource::CLOSED {
            Link::Closed
        } else {
            Link::Connecting
        };
        state.0.set(Some(link));
    });
    let listening = [
        (name, on_message.as_ref()),
        ("open", on_open.as_ref()),
        ("error", on_error.as_ref()),
    ]
    .into_iter()
    .all(|(event, callback)| {
        source
            .add_event_listener_with_callback(event, callback.unchecked_ref())
            .is_ok()
    });
    if !listening {
        source.close();
        return;
    }
    // The callbacks live as long as the EventSource, which is closed with the owner.
    on_message.forget();
    on_open.forget();
    on_error.forget();
    let source = StoredValue::new_local(source);
    on_cleanup(move || source.with_value(web_sys::EventSource::close));
}
