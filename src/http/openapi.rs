//! The OpenAPI 3.1 document, generated from the handlers' annotations and collected by
//! utoipa-axum as the routers are built, served at `/api/openapi.json` with Swagger UI at
//! `/docs`.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Security scheme of admin routes (an admin's JWT).
pub const ADMIN_TOKEN: &str = "admin_token";
/// Security scheme of portal routes (a customer's JWT).
pub const CUSTOMER_TOKEN: &str = "customer_token";

/// The document's fixed parts; paths are added by the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "DeskRinger API",
        description = "The AI receptionist's backend: admin dashboard, business portal, Twilio and Stripe webhooks. \
                       Every error is `{\"error\": \"...\", \"details\"?: {...}}`; 401 means only that the token is \
                       missing, invalid or expired.",
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "service", description = "Health and readiness"),
        (name = "admin", description = "Staff accounts and dashboard figures"),
        (name = "customers", description = "Businesses (admin only)"),
        (name = "calls", description = "Calls of every business (admin only)"),
        (name = "billing", description = "Stripe billing (admin only)"),
        (name = "portal", description = "A business's own portal (customer token)"),
        (name = "webhooks", description = "Twilio and Stripe webhooks, verified by signature"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = || {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.bearer_format = Some("JWT".into());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme(ADMIN_TOKEN, bearer());
        components.add_security_scheme(CUSTOMER_TOKEN, bearer());
        let mut metrics = Http::new(HttpAuthScheme::Bearer);
        metrics.description =
            Some("METRICS_TOKEN (required in production; development may leave /metrics open)".into());
        components.add_security_scheme("metrics_token", SecurityScheme::Http(metrics));
    }
}
