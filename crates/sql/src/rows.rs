//! Rows to records and records to rows, for every SQL store whichever
//! driver runs the statements: a row is checked into a record, a lookup's row must
//! carry exactly the prefix (or id) asked for, and a new record's values are
//! laid out for the table.

use std::sync::Arc;

use super::{Bound, Schema};
use crate::{
    key::Prefix,
    store::{
        row::{to_millis, InsertValues, RawRecord},
        AddressAllowlist, KeyRecord, Lookup, Page, Retirement, StoreError,
    },
};

/// A row checked into a record, its dates read in `schema`'s time zone.
fn record_of(mut raw: RawRecord, schema: &Schema) -> Result<KeyRecord, StoreError> {
    raw.created_ms = schema.stored_to_utc(raw.created_ms)?;
    raw.expires_ms = raw
        .expires_ms
        .map(|ms| schema.stored_to_utc(ms))
        .transpose()?;
    raw.into_record()
}

/// A lookup by prefix. A table compared without regard to case (a DRF
/// table in MySQL's default collation) may give a prefix's twin: not a match.
pub(crate) fn found(raw: Option<RawRecord>, prefix: Prefix, schema: &Schema) -> Lookup {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let record = record_of(raw, schema)?;
    Ok((record.prefix == prefix).then(|| Arc::new(record)))
}

/// A lookup by id, with the same care for case twins.
pub(crate) fn found_by_id(
    raw: Option<RawRecord>,
    id: &str,
    schema: &Schema,
) -> Result<Option<Arc<KeyRecord>>, StoreError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let record = record_of(raw, schema)?;
    Ok((record.id == id).then(|| Arc::new(record)))
}

/// Rows checked into records; one that does not check fails them all.
pub(crate) fn records(
    rows: Vec<RawRecord>,
    schema: &Schema,
) -> Result<Vec<Arc<KeyRecord>>, StoreError> {
    rows.into_iter()
        .map(|raw| Ok(Arc::new(record_of(raw, schema)?)))
        .collect()
}

/// A page from rows read with one row past `limit`, which says whether a
/// next page exists.
pub(crate) fn page(rows: Vec<RawRecord>, limit: u32, schema: &Schema) -> Result<Page, StoreError> {
    Ok(Page::of(records(rows, schema)?, limit))
}

/// The checks a rotation makes of the old key's row, read (and locked) in its
/// transaction: it must be there, with the id asked for (not a case twin), and
/// working.
///
/// Gives the old record and what to write to it: revoked, expiry in ms, and
/// (native schema) the successor's id.
pub(crate) fn rotation(
    raw: Option<RawRecord>,
    old_id: &str,
    new: &InsertValues,
    retirement: Retirement,
    schema: &Schema,
) -> Result<(Arc<KeyRecord>, Retired), StoreError> {
    let old = raw
        .map(|raw| record_of(raw, schema))
        .transpose()?
        .filter(|record| record.id == old_id)
        .ok_or_else(|| StoreError::not_found(format!("no key has the id {old_id:?}")))?;
    if !old.is_active_at(std::time::SystemTime::now()) || old.replaced_by.is_some() {
        return Err(StoreError::inactive(format!(
            "key {old_id:?} is revoked, expired or already replaced"
        )));
    }
    if old.suspended != new.suspended {
        return Err(suspension_changed(old_id));
    }
    if old.allowed_from.as_ref().map(AddressAllowlist::to_json) != new.allowed_from {
        return Err(allowlist_changed(old_id));
    }
    let mut retired = old.retired(retirement, &new.id);
    if schema.is_drf() {
        // No column keeps it: the record says what the table holds.
        retired.replaced_by = None;
    }
    let values = Retired {
        revoked: retired.revoked,
        expires_ms: retired
            .expires
            .map(|at| schema.utc_to_stored(to_millis(at))),
        replaced_by: retired.replaced_by.clone(),
    };
    Ok((Arc::new(retired), values))
}

/// What a rotation writes to the old key's row.
#[derive(Debug)]
pub(crate) struct Retired {
    pub(crate) revoked: bool,
    pub(crate) expires_ms: Option<i64>,
    pub(crate) replaced_by: Option<String>,
}

/// The primary key and the values of a new row of `schema`'s table.
pub(crate) fn new_row(
    record: KeyRecord,
    schema: &Schema,
) -> Result<(String, InsertValues), StoreError> {
    let drf = schema.is_drf();
    let mut values = InsertValues::new(record, drf)?;
    values.created_ms = schema.utc_to_stored(values.created_ms);
    values.expires_ms = values.expires_ms.map(|ms| schema.utc_to_stored(ms));
    let id = if drf {
        // djangorestframework-api-key's primary key: the prefix and the hash, joined by a dot.
        format!("{}.{}", values.prefix, values.hashed_key)
    } else {
        values.id.clone()
    };
    Ok((id, values))
}

/// What a DRF table answers when asked to suspend or resume a key.
pub(crate) fn no_suspension() -> StoreError {
    StoreError::unsupported(
        "a djangorestframework-api-key table has no column to suspend a key in: \
         revoke it, or move to this crate's own table",
    )
}

/// A rotation whose successor does not carry the old key's suspension: the
/// key was suspended (or resumed) after the rotation read it. Refused, so a
/// rotation never lifts a suspension made while it ran.
pub(crate) fn suspension_changed(old_id: &str) -> StoreError {
    StoreError::inactive(format!(
        "key {old_id:?} was suspended or resumed while it was being rotated: rotate it again"
    ))
}

/// The refusal of a rotation whose successor does not carry the old key's
/// address allowlist: it changed (by hand: no API changes one) after the
/// rotation read it. Refused, so the successor is never less confined.
pub(crate) fn allowlist_changed(old_id: &str) -> StoreError {
    StoreError::inactive(format!(
        "key {old_id:?}'s address allowlist changed while it was being rotated: rotate it again"
    ))
}

/// How many credits a take asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Take {
    /// This many, or none.
    Exactly(u64),
    /// As many as are left, up to this many (a lease).
    UpTo(u64),
}

/// The credits of `record`'s key as its row now holds them (`stored`).
fn stored_credits(
    record: &KeyRecord,
    stored: Option<Arc<KeyRecord>>,
) -> Result<crate::store::Credits, StoreError> {
    let stored = stored
        .ok_or_else(|| StoreError::not_found(format!("no key has the id {:?}", record.id)))?;
    stored.credits.ok_or_else(|| {
        StoreError::invalid_record(format!("key {:?} keeps no credits any more", record.id))
    })
}

/// An exact take's outcome as a spend (SQL stores do not read the count
/// back).
pub(crate) fn spent(take: crate::store::CreditLease) -> crate::store::CreditSpend {
    use crate::store::{CreditLease, CreditSpend};
    match take {
        CreditLease::Exhausted { next_refill } => CreditSpend::Exhausted { next_refill },
        _ => CreditSpend::Spent { remaining: None },
    }
}

/// Takes credits of `record`'s key on a SQL store, as `take` asks. A lease
/// reads the count, then spends what it saw (up to the block) as an exact
/// spend does; when another instance took some in between, it reads
/// again, and after a few tries takes a single credit.
///
/// `execute` runs a statement with its values and says how many rows it
/// changed; `read` reads the key's row as it stands.
pub(crate) async fn take_credits<E, EF, R, RF>(
    statements: &Option<[String; 2]>,
    record: &KeyRecord,
    take: Take,
    execute: E,
    read: R,
) -> Result<crate::store::CreditLease, StoreError>
where
    E: Fn(String, Vec<Bound>) -> EF,
    EF: std::future::Future<Output = Result<u64, StoreError>>,
    R: Fn() -> RF,
    RF: std::future::Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>>,
{
    use crate::store::{CreditLease, CreditSpend};
    let spent = |outcome: CreditSpend, count: u64| match outcome {
        CreditSpend::Exhausted { next_refill } => CreditLease::Exhausted { next_refill },
        _ => CreditLease::Taken {
            count,
            lapses: None,
        },
    };
    let up_to = match take {
        Take::Exactly(cost) => {
            let outcome = spend_credits(statements, record, cost, &execute, &read).await?;
            return Ok(spent(outcome, cost));
        }
        Take::UpTo(up_to) => up_to,
    };
    for _ in 0..3 {
        let credits = stored_credits(record, read().await?)?;
        let now = std::time::SystemTime::now();
        let count = credits.left_at(now).min(up_to);
        let lapses = credits.next_refill(now);
        if count == 0 {
            return Ok(CreditLease::Exhausted {
                next_refill: lapses,
            });
        }
        // Spent by the conditional UPDATE, whose refill check is timed at
        // or after `now`: a refill it made in between can only make the
        // credits lapse early.
        let outcome = spend_credits(statements, record, count, &execute, &read).await?;
        if let CreditSpend::Spent { .. } = outcome {
            return Ok(CreditLease::Taken { count, lapses });
        }
    }
    let lapses = record
        .credits
        .and_then(|credits| credits.next_refill(std::time::SystemTime::now()));
    let outcome = spend_credits(statements, record, 1, &execute, &read).await?;
    Ok(match spent(outcome, 1) {
        CreditLease::Taken { count, .. } => CreditLease::Taken { count, lapses },
        other => other,
    })
}

/// Spends `cost` of the credits of `record`'s key on a SQL store: one
/// conditional UPDATE takes them from a count that holds them and whose
/// refill is not due (so no two instances take the same credit); when it
/// changes nothing, the row is read again and, if a refill has come due,
/// the count is set back once (compare-and-set on the refill time, so one
/// instance refills a period) and the spend tried again.
///
/// `execute` runs a statement with its values and says how many rows it
/// changed; `read` reads the key's row as it stands.
async fn spend_credits<E, EF, R, RF>(
    statements: &Option<[String; 2]>,
    record: &KeyRecord,
    cost: u64,
    execute: E,
    read: R,
) -> Result<crate::store::CreditSpend, StoreError>
where
    E: Fn(String, Vec<Bound>) -> EF,
    EF: std::future::Future<Output = Result<u64, StoreError>>,
    R: Fn() -> RF,
    RF: std::future::Future<Output = Result<Option<Arc<KeyRecord>>, StoreError>>,
{
    use crate::store::CreditSpend;
    let Some([spend, refill]) = statements else {
        return Err(StoreError::unsupported(
            "a djangorestframework-api-key table has no column for usage credits",
        ));
    };
    let cost = i64::try_from(cost).map_err(|_| StoreError::config("a cost over i64"))?;
    // A refill and a retry at most twice: past that, other instances keep
    // taking what is refilled, and the request is refused, never admitted
    // uncounted.
    for _ in 0..3 {
        let now = std::time::SystemTime::now();
        let values = vec![
            Bound::Int(cost),
            Bound::Text(record.id.clone()),
            Bound::Int(cost),
            Bound::Int(to_millis(now)),
        ];
        if execute(spend.clone(), values).await? == 1 {
            return Ok(CreditSpend::Spent { remaining: None });
        }
        let credits = stored_credits(record, read().await?)?;
        let (Some(due), Some(plan)) = (credits.due_refill(now), credits.refill()) else {
            return Ok(CreditSpend::Exhausted {
                next_refill: credits.next_refill(now),
            });
        };
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let values = vec![
            Bound::Int(int(plan.amount())),
            Bound::Int(to_millis(due)),
            Bound::Text(record.id.clone()),
            Bound::Int(to_millis(credits.refilled())),
        ];
        execute(refill.clone(), values).await?;
    }
    let now = std::time::SystemTime::now();
    let next_refill = read()
        .await?
        .and_then(|stored| stored.credits)
        .and_then(|credits| credits.next_refill(now));
    Ok(CreditSpend::Exhausted { next_refill })
}
