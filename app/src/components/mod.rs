//! Pieces shared by several pages.

pub mod form;
pub mod layout;
pub mod live;
pub mod settings;
pub mod time;
