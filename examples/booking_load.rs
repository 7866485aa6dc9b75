//! The diary under load (issue 18's benchmark), measured in the server's own code (no HTTP):
//!
//! 1. `check_availability` as the receptionist runs it (`Diary::nearest`, 3 starts) for a
//!    business with 2,000 appointments over a 60-day horizon and capacity 3: p50/p99/max of
//!    the server time, over 2,000 calls spread over the horizon;
//! 2. 64 clients booking the same few slots at once (`Diary::book`): every answer is a
//!    booking or "taken" (409), never an error; the throughput.
//!
//! ```text
//! cargo run --release --example booking_load            # a throwaway PostgreSQL
//! DATABASE_URL=postgres://... cargo run --release --example booking_load
//! ```
//!
//! Nothing leaves this machine.

use std::time::Instant;

use chrono::{Days, TimeZone, Utc};
use deskringer::booking::diary::{BookingError, BookingRequest, Diary};
use deskringer::booking::slots::SlotRequest;
use deskringer::db::appointments::AppointmentSource;
use deskringer::db::customers;
use sqlx::postgres::PgPoolOptions;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (options, _cluster) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => (url.parse()?, None),
        _ => {
            let cluster = deskringer::db::local_cluster::LocalCluster::start_throwaway()?;
            (cluster.connect_options("postgres"), Some(cluster))
        }
    };
    let db = PgPoolOptions::new().max_connections(20).connect_with(options).await?;
    deskringer::migrate(&db).await?;

    // A business open 09:00-19:00 every day, capacity 3, a 60-day horizon, 30-minute service.
    let hours: serde_json::Map<String, serde_json::Value> =
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
            .iter()
            .map(|day| (day.to_string(), serde_json::json!({"open": "09:00", "close": "19:00"})))
            .collect();
    let booking = serde_json::json!({"services": [{"name": "Cut", "minutes": 30}], "capacity": 3,
                                     "horizon_days": 60, "min_notice_minutes": 0});
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO customers (business_name, email, timezone, appointment_handling, business_hours, booking) \
         VALUES ('Load Salon', $1, 'America/New_York', 'book', $2::json, $3::json) RETURNING id",
    )
    .bind(format!("load-{}@bench.test", std::process::id()))
    .bind(serde_json::Value::Object(hours).to_string())
    .bind(booking.to_string())
    .fetch_one(&db)
    .await?;
    // 2,000 appointments over the 60 days: the first 2,000 slot-places in a shuffled order.
    let zone = chrono_tz::America::New_York;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let inserted = sqlx::query(
        "INSERT INTO appointments (customer_id, service, minutes, starts_at, ends_at, blocks_until, place, caller_name, source) \
         SELECT $1, 'Cut', 30, s, s + interval '30 minutes', s + interval '30 minutes', p, 'Seed', 'portal' \
         FROM (SELECT (($2::date + d) + time '09:00' + k * interval '30 minutes') AT TIME ZONE 'America/New_York' AS s, p \
               FROM generate_series(1, 58) d, generate_series(0, 19) k, generate_series(1, 3) p \
               ORDER BY md5(d::text || k::text || p::text) LIMIT 2000) x",
    )
    .bind(id)
    .bind(today)
    .execute(&db)
    .await?
    .rows_affected();
    let customer = customers::find(&db, id).await?.expect("just inserted");
    let diary = Diary::of(&customer)?;

    // 1. check_availability, day after day over the horizon.
    let mut times = Vec::new();
    for n in 0..2000u64 {
        let date = today + Days::new(1 + n % 58);
        let wanted = SlotRequest { date: Some(date), earliest: None, latest: None };
        let started = Instant::now();
        let slots = diary.nearest(&db, "Cut", &wanted, Utc::now(), 3).await?;
        times.push(started.elapsed());
        assert!(slots.len() <= 3);
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "check_availability ({inserted} appointments, 60 days, capacity 3): p50 {:?}  p99 {:?}  max {:?}",
        at(0.5),
        at(0.99),
        times[times.len() - 1]
    );

    // 2. 64 clients, 4 slots, each client trying them in turn.
    let day = today + Days::new(59);
    let starts: Vec<_> = (0..4)
        .map(|k| zone.from_local_datetime(&day.and_hms_opt(9 + k, 0, 0).unwrap()).unwrap().with_timezone(&Utc))
        .collect();
    let started = Instant::now();
    let tasks: Vec<_> = (0..64)
        .map(|client| {
            let (db, diary, starts) = (db.clone(), diary.clone(), starts.clone());
            tokio::spawn(async move {
                let (mut booked, mut taken, mut errors) = (0u32, 0u32, 0u32);
                for round in 0..8 {
                    let request = BookingRequest {
                        service: "Cut".into(),
                        starts_at: starts[(client + round) % starts.len()],
                        caller_name: format!("Client {client}"),
                        caller_phone: None,
                        notes: None,
                        source: AppointmentSource::Portal,
                        call_id: None,
                    };
                    match diary.book(&db, &request, Utc::now()).await {
                        Ok(_) => booked += 1,
                        Err(BookingError::Taken { .. }) => taken += 1,
                        Err(error) => {
                            eprintln!("unexpected: {error}");
                            errors += 1
                        }
                    }
                }
                (booked, taken, errors)
            })
        })
        .collect();
    let (mut booked, mut taken, mut errors) = (0, 0, 0);
    for task in tasks {
        let (b, t, e) = task.await?;
        (booked, taken, errors) = (booked + b, taken + t, errors + e);
    }
    let elapsed = started.elapsed();
    let attempts = booked + taken + errors;
    println!(
        "64 clients booking 4 slots (capacity 3): {attempts} attempts in {:.2?} ({:.0}/s): {booked} booked, {taken} taken (409), {errors} other",
        elapsed,
        f64::from(attempts) / elapsed.as_secs_f64().max(f64::EPSILON)
    );
    assert_eq!(booked, 12, "4 slots x 3 places");
    assert_eq!(errors, 0);
    Ok(())
}
