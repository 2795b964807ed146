//! Cursor pagination, the same for every list: `limit` (1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`]
//! when absent) and `cursor`, the `next_cursor` of the page before.
//!
//! Keyset pages: a list fetches one row more than it shows, in a total order, after the
//! cursor's key. Rows written meanwhile never make a page repeat or skip a row, and a page
//! costs an index range read however deep it is (an `OFFSET` would read every row before it).

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
    Select,
};
use wire::Page;

/// Rows per page when the caller does not say.
pub const DEFAULT_LIMIT: u64 = 100;
/// Most rows per page.
pub const MAX_LIMIT: u64 = 500;

/// A `cursor` that no page of this list handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor: {0} (pass back the `next_cursor` of the previous page unchanged)")]
pub struct BadCursor(pub &'static str);

/// The page size asked for, kept within 1 to [`MAX_LIMIT`].
#[must_use]
pub fn limit(raw: Option<u64>) -> u64 {
    raw.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

/// Rows to fetch for a page of `limit`: one more, to know whether another page follows.
#[must_use]
pub fn fetch(limit: u64) -> u64 {
    limit + 1
}

/// The rows of one page: `query` (with any filters of its own) in `order` of its unique `key`,
/// those after the cursor's key in that order, [`fetch`]`(limit)` of them for [`split`].
pub async fn rows<E, V>(
    db: &impl ConnectionTrait,
    query: Select<E>,
    key: E::Column,
    order: Order,
    cursor: Option<V>,
    limit: u64,
) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    V: Into<sea_orm::Value>,
{
    let mut query = query;
    if let Some(cursor) = cursor {
        query = query.filter(match order {
            Order::Desc => key.lt(cursor),
            _ => key.gt(cursor),
        });
    }
    query.order_by(key, order).limit(fetch(limit)).all(db).await
}

/// Cuts the `limit + 1` fetched rows to a page; the cursor is the key of its last row when
/// more rows follow.
pub fn split<R, T>(
    mut rows: Vec<R>,
    limit: u64,
    key: impl Fn(&R) -> String,
    view: impl FnMut(R) -> T,
) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = more.then(|| rows.last().map(&key)).flatten();
    Page {
        items: rows.into_iter().map(view).collect(),
        next_cursor,
    }
}

/// A cursor that is a row id (events, tokens, revisions, the audit log).
pub fn id_cursor(raw: Option<&str>) -> Result<Option<i64>, BadCursor> {
    raw.map(|c| {
        c.parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(BadCursor("not a cursor of this list"))
    })
    .transpose()
}

/// A cursor that is a name (trunks, AMI users): names are short printable ASCII.
pub fn name_cursor(raw: Option<&str>) -> Result<Option<&str>, BadCursor> {
    raw.map(|c| {
        if c.is_empty() || c.len() > 128 || !c.bytes().all(|b| b.is_ascii_graphic()) {
            Err(BadCursor("not a cursor of this list"))
        } else {
            Ok(c)
        }
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_page_points_at_its_last_row_and_the_last_page_at_nothing() {
        let page = split((1..=4).collect(), 3, ToString::to_string, |n| n * 10);
        assert_eq!(page.items, vec![10, 20, 30]);
        assert_eq!(page.next_cursor.as_deref(), Some("3"));
        let last = split((4..=4).collect(), 3, ToString::to_string, |n| n * 10);
        assert_eq!(last.items, vec![40]);
        assert_eq!(last.next_cursor, None);
    }

    #[test]
    fn limits_are_kept_in_range() {
        assert_eq!(limit(None), DEFAULT_LIMIT);
        assert_eq!(limit(Some(0)), 1);
        assert_eq!(limit(Some(10_000)), MAX_LIMIT);
    }

    #[test]
    fn foreign_cursors_are_refused() {
        assert_eq!(id_cursor(Some("42")), Ok(Some(42)));
        assert!(id_cursor(Some("-1")).is_err());
        assert!(id_cursor(Some("abc")).is_err());
        assert_eq!(name_cursor(Some("carrier-a")), Ok(Some("carrier-a")));
        assert!(name_cursor(Some("a b")).is_err());
        assert!(name_cursor(Some("")).is_err());
        assert_eq!(name_cursor(None), Ok(None));
    }
}
