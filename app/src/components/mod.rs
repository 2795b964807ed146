//! Pieces shared by several pages.

pub mod error_banner;
pub mod layout;
pub mod live;
pub mod pbx;
