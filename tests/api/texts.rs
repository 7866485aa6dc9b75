//! Texts about appointments against a wiremock Twilio and SendGrid: the caller's
//! confirmation, move, cancellation and reminder (once each, never to a number that opted
//! out), the owner's email and text, and the replies a business's number receives (`C`,
//! the opt-out and opt-in words, HELP, short codes, redeliveries, signatures).

use axum::http::StatusCode;
use chrono::{DateTime, Days, NaiveTime, Utc};
use chrono_tz::Tz;
use deskringer::auth::Role;
use deskringer::booking::notices::{Audience, Change};
use deskringer::db::appointments::{self as diary, AppointmentRow, AppointmentStatus};
use deskringer::jobs::appointments as notices;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Mocks, TestApp, Twiml};
use crate::numbers::{ACCOUNT, form, received};

const SMS_PATH: &str = "/api/webhooks/twilio/sms";
pub(crate) const BUSINESS_NUMBER: &str = "+14155550100";
const BUSINESS_PHONE: &str = "+14155550123";
pub(crate) const CALLER: &str = "+14155550199";
const OWNER_PHONE: &str = "+14155550177";
const ZONE: Tz = chrono_tz::America::New_York;

/// A salon open every day 08:00-20:00 in New York, taking bookings for a 45-minute Haircut,
/// with `booking` settings merged over the defaults; its Twilio and SendGrid are mocks that
/// accept everything.
pub(crate) struct Salon {
    pub(crate) app: TestApp,
    pub(crate) mocks: Mocks,
    pub(crate) id: i64,
    pub(crate) token: String,
}

pub(crate) async fn salon(booking: Value) -> Salon {
    let mocks = Mocks::start().await;
    let app = TestApp::spawn_with(mocks.config(false, true, &[])).await;
    let id = app.insert_customer("Bella Hair", "owner@bella.test", "active").await;
    let mut settings = json!({"services": [{"name": "Haircut", "minutes": 45}]});
    settings.as_object_mut().unwrap().extend(booking.as_object().unwrap().clone());
    let day = json!({"open": "08:00", "close": "20:00"});
    let hours = json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day,
                       "saturday": day, "sunday": day});
    sqlx::query(
        "UPDATE customers SET booking = $2::json, business_hours = $3::json, timezone = 'America/New_York', \
         deskringer_number = $4, phone = $5, appointment_handling = 'book' WHERE id = $1",
    )
    .bind(id)
    .bind(settings)
    .bind(hours)
    .bind(BUSINESS_NUMBER)
    .bind(BUSINESS_PHONE)
    .execute(&app.db)
    .await
    .unwrap();
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/Messages.json")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM0001"})))
        .mount(&mocks.twilio)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&mocks.sendgrid)
        .await;
    let token = app.token(Role::Customer, id);
    Salon { app, mocks, id, token }
}

/// 15:00 local time `days` days from today.
fn afternoon(days: u64) -> DateTime<Utc> {
    let today = Utc::now().with_timezone(&ZONE).date_naive();
    (today + Days::new(days))
        .and_time(NaiveTime::from_hms_opt(15, 0, 0).unwrap())
        .and_local_timezone(ZONE)
        .unwrap()
        .to_utc()
}

/// How a start is written in the texts.
pub(crate) fn label(start: DateTime<Utc>) -> String {
    deskringer::booking::label(start, ZONE)
}

/// A text Twilio was asked to send.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Sms {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) body: String,
}

impl Salon {
    /// Books a Haircut at `start` through the portal for `phone`.
    pub(crate) async fn book(&self, start: DateTime<Utc>, phone: &str) -> AppointmentRow {
        let body = json!({"service": "Haircut", "starts_at": start.to_rfc3339(), "caller_name": "Jo Smith",
                          "caller_phone": phone});
        let created = self.app.post("/api/portal/appointments", &self.token, body).await;
        let id = created.assert_ok(StatusCode::CREATED)["id"].as_i64().unwrap();
        self.appointment(id).await
    }

    /// Books at `start` and tells of it as a call would (the caller and the owner).
    async fn book_and_tell(&self, start: DateTime<Utc>) -> AppointmentRow {
        let booked = self.book(start, CALLER).await;
        self.tell(&booked, Change::Booked, Audience { caller: true, owner: true }).await;
        booked
    }

    /// Moves an appointment in the diary to `start` (nobody told).
    async fn move_to(&self, appointment: &AppointmentRow, start: DateTime<Utc>) -> AppointmentRow {
        let end = start + chrono::Duration::minutes(45);
        diary::reschedule(&self.app.db, appointment.id, start, end, end, 1).await.unwrap().unwrap()
    }

    async fn tell(&self, appointment: &AppointmentRow, change: Change, audience: Audience) {
        notices::appointment_changed(&self.app.db, appointment, change, audience).await.unwrap();
    }

    async fn appointment(&self, id: i64) -> AppointmentRow {
        diary::find(&self.app.db, self.id, id).await.unwrap().unwrap()
    }

    /// Every text Twilio was asked to send, in order.
    pub(crate) async fn texts(&self) -> Vec<Sms> {
        received(&self.mocks.twilio, "POST", &format!("{ACCOUNT}/Messages.json"))
            .await
            .iter()
            .map(|request| {
                let fields = form(request);
                let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
                Sms { from: field("From"), to: field("To"), body: field("Body") }
            })
            .collect()
    }

    /// The emails SendGrid was asked to send, as (to, subject, text).
    async fn emails(&self) -> Vec<(String, String, String)> {
        received(&self.mocks.sendgrid, "POST", "/v3/mail/send")
            .await
            .iter()
            .map(|request| {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                let text =
                    body["content"].as_array().unwrap().iter().find(|c| c["type"] == "text/plain").unwrap()["value"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                (
                    body["personalizations"][0]["to"][0]["email"].as_str().unwrap().to_owned(),
                    body["subject"].as_str().unwrap().to_owned(),
                    text,
                )
            })
            .collect()
    }

    /// A text from `from` to the business's number, signed as Twilio signs it.
    async fn text_in(&self, sid: &str, from: &str, body: &str) -> Twiml {
        let response = self
            .app
            .twilio(SMS_PATH, &[("MessageSid", sid), ("From", from), ("To", BUSINESS_NUMBER), ("Body", body)])
            .await;
        Twiml::from(&response)
    }

    /// When the reminder of appointment `id` is queued to run, if it is.
    async fn reminder_at(&self, id: i64) -> Option<DateTime<Utc>> {
        sqlx::query_scalar(
            "SELECT run_at FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id \
             WHERE t.identifier = 'appointment_remind_caller' AND (j.payload->>'appointment_id')::bigint = $1",
        )
        .bind(id)
        .fetch_optional(&self.app.db)
        .await
        .unwrap()
    }

    /// Makes every queued job due now (as if its time had come) and runs them.
    async fn run_everything_now(&self) {
        sqlx::query("UPDATE graphile_worker._private_jobs SET run_at = now()").execute(&self.app.db).await.unwrap();
        self.app.run_jobs().await;
    }

    async fn opted_out(&self, phone: &str) -> bool {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sms_opt_outs WHERE customer_id = $1 AND phone = $2)")
            .bind(self.id)
            .bind(phone)
            .fetch_one(&self.app.db)
            .await
            .unwrap()
    }
}

/// The `<Message>` texts of an answer.
fn messages(twiml: &Twiml) -> Vec<String> {
    twiml.all("Message").into_iter().map(|(_, text)| text).collect()
}

/// An empty `<Response/>`: nothing said back.
#[track_caller]
fn assert_empty(twiml: &Twiml) {
    assert!(twiml.verbs().is_empty(), "{}", twiml.xml);
}

#[tokio::test]
async fn a_booking_texts_the_caller_one_confirmation_from_the_business_number() {
    // Arrange
    let salon = salon(json!({"reminder_hours": 0})).await;
    let start = afternoon(3);

    // Act: told twice (a repeated tool call), and the job run again by hand (a retry).
    let booked = salon.book_and_tell(start).await;
    salon.tell(&booked, Change::Booked, Audience { caller: true, owner: false }).await;
    salon.app.run_jobs().await;
    let notice = deskringer::jobs::appointments::Notice {
        appointment_id: booked.id,
        change: Change::Booked,
        sequence: booked.sequence,
        starts_at: booked.starts_at,
    };
    deskringer::jobs::appointments::text_caller(&salon.app.state.job_context(), &notice).await.unwrap();

    // Assert
    let expected = format!("Bella Hair: your Haircut is booked for {}. Reply C to cancel.", label(start));
    assert!(expected.contains(" at 3:00 pm. "), "{expected}");
    assert_eq!(salon.texts().await, [Sms { from: BUSINESS_NUMBER.into(), to: CALLER.into(), body: expected }]);
}

#[tokio::test]
async fn no_confirmation_when_the_business_turned_texts_off_or_the_appointment_has_no_phone() {
    let salon = salon(json!({"sms_confirmations": false, "reminder_hours": 0})).await;

    let booked = salon.book_and_tell(afternoon(3)).await;
    let moved = salon.move_to(&booked, afternoon(4)).await;
    salon.tell(&moved, Change::Moved, Audience { caller: true, owner: false }).await;
    salon.app.run_jobs().await;

    assert_eq!(salon.texts().await, []);
    assert!(!salon.app.queued_jobs().await.iter().any(|job| job.contains("caller")));

    // Texts on, but nobody to text.
    sqlx::query(
        "UPDATE customers SET booking = '{\"services\": [{\"name\": \"Haircut\", \"minutes\": 45}]}' WHERE id = $1",
    )
    .bind(salon.id)
    .execute(&salon.app.db)
    .await
    .unwrap();
    let body = json!({"service": "Haircut", "starts_at": afternoon(5).to_rfc3339(), "caller_name": "Walk-in"});
    let created = salon.app.post("/api/portal/appointments", &salon.token, body).await;
    let no_phone = salon.appointment(created.assert_ok(StatusCode::CREATED)["id"].as_i64().unwrap()).await;
    salon.tell(&no_phone, Change::Booked, Audience { caller: true, owner: false }).await;
    salon.run_everything_now().await;
    assert_eq!(salon.texts().await, []);
}

#[tokio::test]
async fn a_move_and_a_cancellation_each_text_the_caller_once() {
    let salon = salon(json!({"reminder_hours": 0})).await;
    let booked = salon.book_and_tell(afternoon(3)).await;
    // Jobs run after each change: texts due together may go in any order.
    salon.app.run_jobs().await;

    let moved = salon
        .app
        .call(
            axum::http::Method::PATCH,
            &format!("/api/portal/appointments/{}", booked.id),
            Some(&salon.token),
            Some(json!({"starts_at": afternoon(4).to_rfc3339()})),
        )
        .await;
    moved.assert_ok(StatusCode::OK);
    let moved = salon.appointment(booked.id).await;
    salon.tell(&moved, Change::Moved, Audience { caller: true, owner: false }).await;
    salon.tell(&moved, Change::Moved, Audience { caller: true, owner: false }).await;
    salon.app.run_jobs().await;
    let cancelled = diary::cancel(&salon.app.db, booked.id).await.unwrap().unwrap();
    salon.tell(&cancelled, Change::Cancelled, Audience { caller: true, owner: false }).await;
    salon.app.run_jobs().await;
    salon.tell(&cancelled, Change::Cancelled, Audience { caller: true, owner: false }).await;
    salon.app.run_jobs().await;

    let bodies: Vec<String> = salon.texts().await.into_iter().map(|sms| sms.body).collect();
    assert_eq!(
        bodies,
        [
            format!("Bella Hair: your Haircut is booked for {}. Reply C to cancel.", label(afternoon(3))),
            format!("Bella Hair: your Haircut has moved to {}. Reply C to cancel.", label(afternoon(4))),
            format!("Bella Hair: your Haircut on {} is cancelled.", label(afternoon(4))),
        ]
    );
}

#[tokio::test]
async fn the_reminder_goes_at_its_time_and_not_for_a_cancelled_moved_or_imminent_appointment() {
    // Arrange: reminders 24 hours ahead, no confirmations (only reminders are texted).
    let salon = salon(json!({"sms_confirmations": false, "reminder_hours": 24})).await;
    let kept = salon.book_and_tell(afternoon(3)).await;
    let cancelled = salon.book_and_tell(afternoon(4)).await;
    let moved = salon.book_and_tell(afternoon(5)).await;
    // Inside the window: booked for two hours from now.
    let soon_start = Utc::now() + chrono::Duration::hours(2);
    let soon = diary::insert(
        &salon.app.db,
        &diary::NewAppointment {
            customer_id: salon.id,
            call_id: None,
            service: "Haircut".into(),
            minutes: 45,
            starts_at: soon_start,
            ends_at: soon_start + chrono::Duration::minutes(45),
            blocks_until: soon_start + chrono::Duration::minutes(45),
            caller_name: "Jo Smith".into(),
            caller_phone: Some(CALLER.into()),
            notes: None,
            source: diary::AppointmentSource::Call,
        },
        1,
    )
    .await
    .unwrap();
    salon.tell(&soon, Change::Booked, Audience { caller: true, owner: false }).await;

    // Queued at start - 24 hours, one per appointment; none inside the window.
    assert_eq!(salon.reminder_at(kept.id).await, Some(kept.starts_at - chrono::Duration::hours(24)));
    assert_eq!(salon.reminder_at(soon.id).await, None);

    // Act: one is cancelled through the portal, one moved there (its reminder moves with it:
    // the caller is told of a move made in the portal), then every reminder's time comes.
    let uri = format!("/api/portal/appointments/{}/cancel", cancelled.id);
    salon.app.post(&uri, &salon.token, json!({"notify_caller": false})).await.assert_ok(StatusCode::OK);
    assert_eq!(salon.reminder_at(cancelled.id).await, None, "a cancellation removes the reminder");
    let patch = salon
        .app
        .call(
            axum::http::Method::PATCH,
            &format!("/api/portal/appointments/{}", moved.id),
            Some(&salon.token),
            Some(json!({"starts_at": afternoon(6).to_rfc3339()})),
        )
        .await;
    patch.assert_ok(StatusCode::OK);
    assert!(salon.reminder_at(moved.id).await.is_some());
    salon.run_everything_now().await;

    // Assert: the standing appointments' reminders went, the moved one's for its new time.
    let moved_to: chrono::DateTime<Utc> = sqlx::query_scalar("SELECT starts_at FROM appointments WHERE id = $1")
        .bind(moved.id)
        .fetch_one(&salon.app.db)
        .await
        .unwrap();
    let reminder = |at| Sms {
        from: BUSINESS_NUMBER.into(),
        to: CALLER.into(),
        body: format!("Bella Hair: a reminder of your Haircut on {}. Reply C to cancel.", label(at)),
    };
    let mut texts = salon.texts().await;
    texts.sort_by(|a, b| a.body.cmp(&b.body));
    let mut expected = vec![reminder(kept.starts_at), reminder(moved_to)];
    expected.sort_by(|a, b| a.body.cmp(&b.body));
    assert_eq!(texts, expected);

    // A stale reminder of a cancelled appointment, run by hand, sends nothing either.
    let stale = deskringer::jobs::appointments::RemindCaller {
        appointment_id: cancelled.id,
        sequence: cancelled.sequence,
        starts_at: cancelled.starts_at,
    };
    deskringer::jobs::appointments::remind_caller(&salon.app.state.job_context(), &stale, Utc::now()).await.unwrap();
    assert_eq!(salon.texts().await.len(), 2, "the two standing reminders, nothing for the cancelled one");
}

#[tokio::test]
async fn a_move_told_of_moves_the_reminder() {
    let salon = salon(json!({"sms_confirmations": false, "reminder_hours": 24})).await;
    let booked = salon.book_and_tell(afternoon(3)).await;

    let moved = salon.move_to(&booked, afternoon(6)).await;
    salon.tell(&moved, Change::Moved, Audience { caller: true, owner: false }).await;

    assert_eq!(salon.reminder_at(booked.id).await, Some(afternoon(6) - chrono::Duration::hours(24)));
    salon.run_everything_now().await;
    let bodies: Vec<String> = salon.texts().await.into_iter().map(|sms| sms.body).collect();
    assert_eq!(
        bodies,
        [format!("Bella Hair: a reminder of your Haircut on {}. Reply C to cancel.", label(afternoon(6)))]
    );
}

#[tokio::test]
async fn the_owner_is_emailed_and_texted_about_every_change_once() {
    // Arrange: no notification email (the business's own address is used), a phone for texts.
    let salon = salon(json!({"sms_confirmations": false, "reminder_hours": 0})).await;
    sqlx::query("UPDATE customers SET notification_phone = $2 WHERE id = $1")
        .bind(salon.id)
        .bind(OWNER_PHONE)
        .execute(&salon.app.db)
        .await
        .unwrap();

    // Act: a booking, told twice, then a move once notification_email is set.
    let booked = salon.book_and_tell(afternoon(3)).await;
    salon.tell(&booked, Change::Booked, Audience { caller: false, owner: true }).await;
    salon.app.run_jobs().await;
    sqlx::query("UPDATE customers SET notification_email = 'desk@bella.test' WHERE id = $1")
        .bind(salon.id)
        .execute(&salon.app.db)
        .await
        .unwrap();
    let moved = salon.move_to(&booked, afternoon(4)).await;
    salon.tell(&moved, Change::Moved, Audience { caller: true, owner: true }).await;
    salon.app.run_jobs().await;

    // Assert
    let emails = salon.emails().await;
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert_eq!(emails[0].0, "owner@bella.test");
    assert_eq!(emails[0].1, format!("New booking: Haircut on {} - Jo Smith", label(afternoon(3))));
    assert!(emails[0].2.contains(&format!("For: Jo Smith ({CALLER})")), "{}", emails[0].2);
    assert_eq!(emails[1].0, "desk@bella.test");
    assert_eq!(emails[1].1, format!("Booking moved: Haircut on {} - Jo Smith", label(afternoon(4))));
    assert_eq!(
        salon.texts().await,
        [
            Sms {
                from: BUSINESS_NUMBER.into(),
                to: OWNER_PHONE.into(),
                body: format!("DeskRinger: new booking - Haircut on {} for Jo Smith ({CALLER}).", label(afternoon(3))),
            },
            Sms {
                from: BUSINESS_NUMBER.into(),
                to: OWNER_PHONE.into(),
                body: format!(
                    "DeskRinger: booking moved - Haircut now {} for Jo Smith ({CALLER}).",
                    label(afternoon(4))
                ),
            },
        ]
    );
}

#[tokio::test]
async fn c_cancels_the_senders_next_appointment_says_which_and_tells_the_owner() {
    // Arrange: two appointments for the caller, one for someone else sooner.
    let salon = salon(json!({"sms_confirmations": false, "reminder_hours": 0})).await;
    let other = salon.book(afternoon(2), "+14155550188").await;
    let first = salon.book(afternoon(3), CALLER).await;
    let second = salon.book(afternoon(4), CALLER).await;

    // Act
    let answer = salon.text_in("SM1", CALLER, " c ").await;

    // Assert
    assert_eq!(messages(&answer), [format!("Bella Hair: your Haircut on {} is cancelled.", label(first.starts_at))]);
    assert_eq!(salon.appointment(first.id).await.status, AppointmentStatus::Cancelled);
    assert_eq!(salon.appointment(second.id).await.status, AppointmentStatus::Booked);
    assert_eq!(salon.appointment(other.id).await.status, AppointmentStatus::Booked);
    salon.app.run_jobs().await;
    let emails = salon.emails().await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].1, format!("Booking cancelled: Haircut on {} - Jo Smith", label(first.starts_at)));
    assert_eq!(salon.texts().await, [], "the TwiML answer is the caller's only text");

    // The next C takes the next one; then there is none.
    let again = salon.text_in("SM2", CALLER, "C").await;
    assert_eq!(messages(&again), [format!("Bella Hair: your Haircut on {} is cancelled.", label(second.starts_at))]);
    let none = salon.text_in("SM3", CALLER, "C").await;
    assert_eq!(
        messages(&none),
        [format!("Bella Hair: you have no upcoming appointment to cancel. Questions? Call {BUSINESS_PHONE}.")]
    );
    assert_eq!(salon.appointment(other.id).await.status, AppointmentStatus::Booked);
}

#[tokio::test]
async fn a_redelivered_message_changes_nothing_and_answers_the_same() {
    let salon = salon(json!({"sms_confirmations": false, "reminder_hours": 0})).await;
    let first = salon.book(afternoon(3), CALLER).await;
    let second = salon.book(afternoon(4), CALLER).await;

    let answer = salon.text_in("SM42", CALLER, "C").await;
    let redelivered = salon.text_in("SM42", CALLER, "C").await;

    assert_eq!(redelivered.xml, answer.xml);
    assert_eq!(messages(&answer).len(), 1);
    assert_eq!(salon.appointment(first.id).await.status, AppointmentStatus::Cancelled);
    assert_eq!(salon.appointment(second.id).await.status, AppointmentStatus::Booked);
    salon.app.run_jobs().await;
    assert_eq!(salon.emails().await.len(), 1, "the owner is told once");
}

#[tokio::test]
async fn stop_records_the_opt_out_and_nothing_more_is_texted_until_start() {
    let salon = salon(json!({"reminder_hours": 24})).await;
    let booked = salon.book(afternoon(3), CALLER).await;

    // STOP (or CANCEL, a carrier word too): recorded, not answered (Twilio answers), and no
    // appointment is cancelled.
    assert_empty(&salon.text_in("SM1", CALLER, "Cancel").await);
    assert!(salon.opted_out(CALLER).await);
    assert_eq!(salon.appointment(booked.id).await.status, AppointmentStatus::Booked);
    assert_empty(&salon.text_in("SM2", CALLER, "STOP").await);

    // A confirmation and a reminder: neither is sent. HELP is not answered either.
    salon.tell(&booked, Change::Booked, Audience { caller: true, owner: false }).await;
    salon.run_everything_now().await;
    assert_eq!(salon.app.queued_jobs().await, Vec::<String>::new(), "the jobs ran, and sent nothing");
    assert_empty(&salon.text_in("SM3", CALLER, "HELP").await);
    assert_eq!(salon.texts().await, []);

    // START lifts it (Twilio answers that too); the next confirmation goes.
    assert_empty(&salon.text_in("SM4", CALLER, "start").await);
    assert!(!salon.opted_out(CALLER).await);
    let next = salon.book_and_tell(afternoon(4)).await;
    salon.app.run_jobs().await;
    let bodies: Vec<String> = salon.texts().await.into_iter().map(|sms| sms.body).collect();
    assert_eq!(
        bodies,
        [format!("Bella Hair: your Haircut is booked for {}. Reply C to cancel.", label(next.starts_at))]
    );
}

#[tokio::test]
async fn a_number_twilio_reports_as_opted_out_is_recorded_and_not_retried() {
    // Twilio refuses: the caller texted STOP to the number while its texts went elsewhere.
    let salon = salon(json!({"reminder_hours": 0})).await;
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/Messages.json")))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}),
        ))
        .with_priority(1)
        .expect(1)
        .mount(&salon.mocks.twilio)
        .await;

    salon.book_and_tell(afternoon(3)).await;
    salon.app.run_jobs().await;
    salon.app.run_retries().await;

    assert!(salon.opted_out(CALLER).await);
    assert_eq!(salon.app.queued_jobs().await, Vec::<String>::new(), "the job ended");
}

#[tokio::test]
async fn a_text_twilio_refuses_for_good_is_not_retried() {
    // A caller who rang from a landline: Twilio refuses texts to it.
    let salon = salon(json!({"reminder_hours": 0})).await;
    Mock::given(method("POST"))
        .and(path(format!("{ACCOUNT}/Messages.json")))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"code": 21614, "message": "'To' number is not a valid mobile number", "status": 400}),
        ))
        .with_priority(1)
        .expect(1)
        .mount(&salon.mocks.twilio)
        .await;

    salon.book_and_tell(afternoon(3)).await;
    salon.app.run_jobs().await;
    salon.app.run_retries().await;

    assert!(!salon.opted_out(CALLER).await);
    assert_eq!(salon.app.queued_jobs().await, Vec::<String>::new(), "the job ended");
}

#[tokio::test]
async fn help_and_anything_else_get_one_line_with_the_business_and_its_number() {
    let salon = salon(json!({})).await;
    let line = format!(
        "Bella Hair: questions or bookings, call {BUSINESS_PHONE}. Reply C to cancel your next appointment, STOP to opt out."
    );

    assert_eq!(messages(&salon.text_in("SM1", CALLER, "HELP").await), std::slice::from_ref(&line));
    assert_eq!(messages(&salon.text_in("SM2", CALLER, "info").await), std::slice::from_ref(&line));
    assert_eq!(messages(&salon.text_in("SM3", CALLER, "Can I come in at 3 <tomorrow> & bring my dog?").await), [line]);

    // Without a phone of its own, the business's DeskRinger number is given.
    sqlx::query("UPDATE customers SET phone = NULL, business_name = 'Bob & Sons <Hair>' WHERE id = $1")
        .bind(salon.id)
        .execute(&salon.app.db)
        .await
        .unwrap();
    let answer = salon.text_in("SM4", CALLER, "hello").await;
    assert_eq!(
        messages(&answer),
        [format!(
            "Bob & Sons <Hair>: questions or bookings, call {BUSINESS_NUMBER}. Reply C to cancel your next appointment, STOP to opt out."
        )]
    );
    assert!(answer.xml.contains("Bob &amp; Sons &lt;Hair&gt;"), "{}", answer.xml);
}

#[tokio::test]
async fn short_codes_sender_ids_and_unknown_numbers_get_no_answer_and_change_nothing() {
    let salon = salon(json!({"sms_confirmations": false, "reminder_hours": 0})).await;
    let booked = salon.book(afternoon(3), CALLER).await;

    for from in ["72345", "898211", "BellaHair"] {
        assert_empty(&salon.text_in("SM-short", from, "C").await);
        assert_empty(&salon.text_in("SM-short-stop", from, "STOP").await);
    }
    let elsewhere = salon
        .app
        .twilio(SMS_PATH, &[("MessageSid", "SM9"), ("From", CALLER), ("To", "+14155550999"), ("Body", "C")])
        .await;

    assert_empty(&Twiml::from(&elsewhere));
    assert_eq!(salon.appointment(booked.id).await.status, AppointmentStatus::Booked);
    assert_eq!(salon.app.count("sms_opt_outs").await, 0);
    assert_eq!(salon.app.count("inbound_texts").await, 0);
}

#[tokio::test]
async fn a_text_with_a_bad_or_missing_signature_is_refused() {
    let salon = salon(json!({})).await;
    let booked = salon.book(afternoon(3), CALLER).await;
    let params = [("MessageSid", "SM1"), ("From", CALLER), ("To", BUSINESS_NUMBER), ("Body", "C")];

    let forged = salon.app.twilio_with_signature(SMS_PATH, &params, Some("bm90IGEgc2lnbmF0dXJl")).await;
    let unsigned = salon.app.twilio_with_signature(SMS_PATH, &params, None).await;

    forged.assert_error(StatusCode::FORBIDDEN);
    unsigned.assert_error(StatusCode::FORBIDDEN);
    assert_eq!(salon.appointment(booked.id).await.status, AppointmentStatus::Booked);
    assert_eq!(salon.app.count("inbound_texts").await, 0);
}

#[tokio::test]
async fn the_portals_cancel_texts_the_caller_only_when_asked() {
    let salon = salon(json!({"reminder_hours": 0})).await;
    let quiet = salon.book(afternoon(3), CALLER).await;
    let told = salon.book(afternoon(4), CALLER).await;

    // Booking in the portal confirmed both; only what the cancellations send counts here.
    salon.app.run_jobs().await;
    let confirmations = salon.texts().await.len();
    assert_eq!(confirmations, 2);
    let uri = |id: i64| format!("/api/portal/appointments/{id}/cancel");
    salon.app.post(&uri(quiet.id), &salon.token, json!({"notify_caller": false})).await.assert_ok(StatusCode::OK);
    salon.app.run_jobs().await;
    assert_eq!(salon.texts().await.len(), confirmations);
    salon.app.post(&uri(told.id), &salon.token, json!({"notify_caller": true})).await.assert_ok(StatusCode::OK);
    salon.app.run_jobs().await;

    assert_eq!(
        salon.texts().await[confirmations..],
        [Sms {
            from: BUSINESS_NUMBER.into(),
            to: CALLER.into(),
            body: format!("Bella Hair: your Haircut on {} is cancelled.", label(told.starts_at)),
        }]
    );
    assert_eq!(salon.emails().await, [], "the owner cancelled it: no email about it");
}
