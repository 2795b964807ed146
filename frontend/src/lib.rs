//! The browser entry point: hydrates the server-rendered console.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Says the page is live: from here on forms and links go through the app. Browser tests
    // wait for it; the wasm file having been fetched is not enough, it is instantiated after.
    if let Some(root) = leptos::prelude::document().document_element() {
        let _ = root.set_attribute("data-hydrated", "");
    }
}
