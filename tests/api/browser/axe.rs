//! Accessibility checks with axe-core (vendored in `vendor/`, MPL-2.0; see its README).

use serde_json::{Value, json};

use super::page::{Browser, DESKTOP, PHONE};

/// axe-core's browser bundle, injected into the page under test.
const AXE_JS: &str = include_str!("vendor/axe.min.js");

/// WCAG 2.0, 2.1 and 2.2, levels A and AA (axe has no `wcag22a` rules).
const TAGS: &[&str] = &["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/// Runs axe on the page and answers its serious and critical violations.
const RUN_AXE: &str = r#"
const [tags, done] = arguments;
// After two frames, so a resize or a render just made is laid out.
requestAnimationFrame(() => requestAnimationFrame(() => {
  axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
    .then((results) => done(results.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
                     targets: v.nodes.map((n) => n.target.join(' ')) }))))
    .catch((error) => done({ error: String(error) }));
}));
"#;

impl Browser {
    /// Checks the current screen with axe-core against WCAG 2.0/2.1/2.2 A and AA, at the
    /// phone and at the desktop width (then restores the window), and fails the test listing
    /// every serious or critical finding: its rule, what it asks, and the elements that fail.
    /// `name` says which screen, in the message.
    pub async fn check_accessibility(&self, name: &str) {
        let original = self.size();
        let mut report = Vec::new();
        for size in [PHONE, DESKTOP] {
            self.resize(size).await;
            for violation in self.axe().await {
                let targets: Vec<&str> =
                    violation["targets"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                report.push(format!(
                    "- {name} at {} ({}px): {} ({}): {}\n    {}\n    failing: {}",
                    size.name,
                    size.width,
                    violation["id"].as_str().unwrap_or("?"),
                    violation["impact"].as_str().unwrap_or("?"),
                    violation["help"].as_str().unwrap_or("?"),
                    violation["url"].as_str().unwrap_or(""),
                    targets.join(", "),
                ));
            }
        }
        self.resize(original).await;
        assert!(report.is_empty(), "accessibility findings (serious or critical):\n{}", report.join("\n"));
    }

    /// axe's serious and critical violations on the page as it is.
    async fn axe(&self) -> Vec<Value> {
        // WebDriver's scripts are not subject to the page's CSP, so the library goes in as
        // the body of one (the app's CSP rightly refuses inline and foreign scripts).
        if self.js("return typeof window.axe", vec![]).await != "object" {
            self.js(&format!("{AXE_JS}\nreturn typeof window.axe;"), vec![]).await;
        }
        let answer = self.js_async(RUN_AXE, vec![json!(TAGS)]).await;
        match answer {
            Value::Array(violations) => violations,
            other => panic!("axe-core failed: {other}"),
        }
    }
}
