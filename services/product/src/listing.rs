//! ListProducts: keyset pagination over [`crate::db::products::page`], with the platform's page tokens
//! ([`ec_platform::page_token`]).
//!
//! Products are listed in a [`Sort`]: newest first (ids are UUID v7), by relevance and then id with a search
//! query, or by lowest price and then id. A search lists the products with all of its words; when none has
//! them all (and it excludes no word), those with any of them ([`Words`]), best matches first: asking for all first keeps a common
//! search cheap (the products matching any word of two common ones are many, and each must be ranked). A page
//! token carries where the last page ended ([`Cursor`]: the last id, its rank or price when sorted by one, and
//! which words a search matched), bound to the filters and the sort it was issued for and signed, so a page never repeats or skips products when others are added
//! or deleted between pages, a token cannot be made up or edited, one issued for other filters (or another
//! audience: the public and admins see different products) is refused, and one older than a day is refused as
//! stale, all as `invalid_argument`. An empty token asks for the first page.

use ec_platform::page_token::{self, PageTokens};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    catalog::{self, ProductView},
    db,
    domain::ProductStatus,
    error::Error,
};

/// The purpose the key of ListProducts' page tokens is derived for from the platform's internal secret
/// ([`page_token::key`]).
pub const PAGE_TOKEN_PURPOSE: &[u8] = b"ec product page token v1";

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    /// This category's subtree (its id and every descendant's).
    pub category: Option<(Uuid, Vec<Uuid>)>,
    /// A web-search style query over name and description.
    pub search: Option<String>,
    /// Inclusive bounds on the product's lowest SKU price.
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    /// Statuses to include (the public: PUBLISHED only).
    pub statuses: Vec<ProductStatus>,
    pub sort: Sort,
}

/// The order of a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// Newest first.
    #[default]
    Newest,
    /// Best matches first (with a search only).
    Relevance,
    /// Lowest price first; products without a price are left out.
    PriceAscending,
    /// Highest price first; products without a price are left out.
    PriceDescending,
}

impl Sort {
    fn name(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Relevance => "relevance",
            Sort::PriceAscending => "price-asc",
            Sort::PriceDescending => "price-desc",
        }
    }
}

impl Filters {
    /// What the filters are, as the digest a token is bound to: the category asked for (not its subtree,
    /// which may grow), the search, the price bounds, the statuses, which tell the audiences apart, and the
    /// sort.
    fn binding(&self) -> [u8; 16] {
        let statuses: Vec<&str> = self.statuses.iter().map(|s| s.as_str()).collect();
        page_token::binding(&[
            self.category.as_ref().map_or(&[][..], |(id, _)| id.as_bytes()),
            self.search.as_deref().unwrap_or("").as_bytes(),
            &self.min_price.map_or([0; 9], tagged),
            &self.max_price.map_or([0; 9], tagged),
            statuses.join(",").as_bytes(),
            self.sort.name().as_bytes(),
        ])
    }
}

/// A bound, told apart from no bound.
fn tagged(value: i64) -> [u8; 9] {
    let mut out = [1u8; 9];
    out[1..].copy_from_slice(&value.to_be_bytes());
    out
}

/// Which of a search's words the products listed have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Words {
    All,
    /// Any of them, because no product has them all.
    Any,
}

/// Where a page ended: the last product's id, what it was sorted by besides, and, for a search, which words
/// the list matches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cursor {
    pub key: SortKey,
    pub id: Uuid,
    pub words: Option<Words>,
}

/// The value of the last product's sort key before its id.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SortKey {
    /// Newest first: the id alone.
    None,
    Rank(f32),
    Price(i64),
}

impl Cursor {
    /// How long a cursor of `sort` is in a token: the id, the rank or the price, and a byte for the words
    /// when `searching`.
    fn len(sort: Sort, searching: bool) -> usize {
        let key = match sort {
            Sort::Newest => 0,
            Sort::Relevance => 4,
            Sort::PriceAscending | Sort::PriceDescending => 8,
        };
        16 + key + usize::from(searching)
    }

    fn to_bytes(self) -> Vec<u8> {
        let mut bytes = self.id.as_bytes().to_vec();
        match self.key {
            SortKey::None => {}
            SortKey::Rank(rank) => bytes.extend_from_slice(&rank.to_bits().to_be_bytes()),
            SortKey::Price(price) => bytes.extend_from_slice(&price.to_be_bytes()),
        }
        if let Some(words) = self.words {
            bytes.push(u8::from(words == Words::Any));
        }
        bytes
    }

    /// A cursor of [`Self::len`] bytes for `sort`, as the codec hands it back.
    fn from_bytes(bytes: &[u8], sort: Sort, searching: bool) -> Self {
        let id = Uuid::from_slice(&bytes[..16]).expect("16 bytes");
        let (key, rest) = match sort {
            Sort::Newest => (SortKey::None, &bytes[16..]),
            Sort::Relevance => {
                let rank = f32::from_bits(u32::from_be_bytes(bytes[16..20].try_into().expect("4 bytes")));
                (SortKey::Rank(rank), &bytes[20..])
            }
            Sort::PriceAscending | Sort::PriceDescending => {
                (SortKey::Price(i64::from_be_bytes(bytes[16..24].try_into().expect("8 bytes"))), &bytes[24..])
            }
        };
        let words = searching.then(|| if rest.first() == Some(&1) { Words::Any } else { Words::All });
        Self { key, id, words }
    }
}

/// The token for the page after `cursor` of the list `filters` describe.
fn next_token(tokens: &PageTokens, filters: &Filters, cursor: Cursor, now: i64) -> String {
    tokens.encode(&filters.binding(), &cursor.to_bytes(), now)
}

/// Where `page_token` says to start: `None` for the first page (an empty token), or the cursor of a token
/// this server issued for `filters` within the last day; any other token is `invalid_argument`, saying why.
fn start(tokens: &PageTokens, page_token: &str, filters: &Filters, now: i64) -> Result<Option<Cursor>, Error> {
    if page_token.is_empty() {
        return Ok(None);
    }
    let searching = filters.search.is_some();
    let length = Cursor::len(filters.sort, searching);
    let cursor = tokens.decode(page_token, &filters.binding(), length, now)?;
    Ok(Some(Cursor::from_bytes(&cursor, filters.sort, searching)))
}

/// One page of products matching `filters`, from `page_token` on; the next page's token (empty on the last
/// page); and, for a search, which of its words the products have.
pub async fn list(
    pool: &PgPool,
    tokens: &PageTokens,
    filters: &Filters,
    page_size: i64,
    page_token: &str,
) -> Result<(Vec<ProductView>, String, Option<Words>), Error> {
    let now = chrono::Utc::now().timestamp();
    let after = start(tokens, page_token, filters, now)?;
    let mut words = filters.search.as_ref().map(|_| after.and_then(|c| c.words).unwrap_or(Words::All));
    let mut hits = db::products::page(pool, filters, words, after, page_size + 1).await?;
    // Not when the search excludes words: any of the others would bring back what it excludes.
    let excludes =
        filters.search.as_deref().is_some_and(|q| q.split_whitespace().any(|w| w.len() > 1 && w.starts_with('-')));
    if hits.is_empty() && after.is_none() && words == Some(Words::All) && !excludes {
        words = Some(Words::Any);
        hits = db::products::page(pool, filters, words, None, page_size + 1).await?;
    }
    let more = hits.len() as i64 > page_size;
    hits.truncate(page_size as usize);
    let next = match (more, hits.last()) {
        (true, Some(last)) => {
            let key = match filters.sort {
                Sort::Newest => SortKey::None,
                Sort::Relevance => SortKey::Rank(last.rank.unwrap_or_default()),
                Sort::PriceAscending | Sort::PriceDescending => SortKey::Price(last.price.unwrap_or_default()),
            };
            next_token(tokens, filters, Cursor { key, id: last.id, words }, now)
        }
        _ => String::new(),
    };
    let ids: Vec<Uuid> = hits.iter().map(|hit| hit.id).collect();
    let products = db::products::by_ids(pool, &ids, &filters.statuses).await?;
    Ok((catalog::with_details(pool, products).await?, next, words))
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use ec_platform::page_token::{LIFETIME_SECS, PageTokenError};

    use super::*;
    use crate::domain::Reader;

    fn filters(search: Option<&str>) -> Filters {
        Filters {
            search: search.map(str::to_owned),
            statuses: vec![ProductStatus::Published],
            sort: if search.is_some() { Sort::Relevance } else { Sort::Newest },
            ..Filters::default()
        }
    }

    /// `result` is the refusal `why`, as `invalid_argument` with its message.
    #[track_caller]
    fn assert_refused(result: Result<Option<Cursor>, Error>, why: PageTokenError, case: &str) {
        match result {
            Err(Error::InvalidArgument(message)) => assert_eq!(message, why.to_string(), "{case}"),
            other => panic!("{case}: expected invalid_argument ({why}), got {other:?}"),
        }
    }

    #[test]
    fn a_token_starts_where_its_page_ended_for_its_filters_only() {
        let tokens = PageTokens::new(b"key");
        let cursor = Cursor { key: SortKey::Rank(0.25), id: Uuid::now_v7(), words: Some(Words::Any) };
        let searching = filters(Some("tea"));
        let token = next_token(&tokens, &searching, cursor, 1_000);
        assert_eq!(start(&tokens, &token, &searching, 1_010).unwrap(), Some(cursor));
        let plain = filters(None);
        let plain_cursor = Cursor { key: SortKey::None, id: Uuid::now_v7(), words: None };
        let plain_token = next_token(&tokens, &plain, plain_cursor, 1_000);
        assert_eq!(start(&tokens, &plain_token, &plain, 1_010).unwrap(), Some(plain_cursor));

        let other_search = start(&tokens, &token, &filters(Some("coffee")), 1_010);
        assert_refused(other_search, PageTokenError::OtherFilters, "another search");
        let mut priced = searching.clone();
        priced.min_price = Some(0);
        assert_refused(start(&tokens, &token, &priced, 1_010), PageTokenError::OtherFilters, "a price bound of 0");
        let mut in_category = searching.clone();
        in_category.category = Some((Uuid::now_v7(), Vec::new()));
        assert_refused(start(&tokens, &token, &in_category, 1_010), PageTokenError::OtherFilters, "a category");
        let mut admin = searching.clone();
        admin.statuses = Reader::Admin.lists(None);
        assert_refused(start(&tokens, &token, &admin, 1_010), PageTokenError::OtherFilters, "another audience");
        // A search token carries a rank, so without the search it is the wrong length before it is the wrong list.
        assert_refused(start(&tokens, &token, &plain, 1_010), PageTokenError::Forged, "no search");
        // The same search in another order is another list; a price cursor keeps its price.
        let mut by_price = searching.clone();
        by_price.sort = Sort::PriceAscending;
        let priced_cursor = Cursor { key: SortKey::Price(1_200), id: Uuid::now_v7(), words: Some(Words::All) };
        let priced_token = next_token(&tokens, &by_price, priced_cursor, 1_000);
        assert_eq!(start(&tokens, &priced_token, &by_price, 1_010).unwrap(), Some(priced_cursor));
        let mut descending = by_price.clone();
        descending.sort = Sort::PriceDescending;
        assert_refused(start(&tokens, &priced_token, &descending, 1_010), PageTokenError::OtherFilters, "another sort");
        let other_key = start(&PageTokens::new(b"other"), &token, &searching, 1_010);
        assert_refused(other_key, PageTokenError::Forged, "another key");
        let stale = start(&tokens, &token, &searching, 1_000 + LIFETIME_SECS + 1);
        assert_refused(stale, PageTokenError::Expired, "stale");
    }

    #[test]
    fn an_empty_token_is_the_first_page_and_edited_or_made_up_tokens_are_refused() {
        let tokens = PageTokens::new(b"key");
        let plain = filters(None);
        assert_eq!(start(&tokens, "", &plain, 1_000).unwrap(), None, "the first page");

        let token = next_token(&tokens, &plain, Cursor { key: SortKey::None, id: Uuid::now_v7(), words: None }, 1_000);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[30] ^= 1; // another id
        let edited = URL_SAFE_NO_PAD.encode(&bytes);
        for bad in [edited.as_str(), "x", "not base64 !", &"A".repeat(200), &token[..token.len() - 2]] {
            assert_refused(start(&tokens, bad, &plain, 1_000), PageTokenError::Forged, bad);
        }
    }
}
