//! Which country a phone number (E.164) rings in, so the platform only places calls to the
//! countries its operator pays for (`TEST_CALL_COUNTRIES`).
//!
//! A country is known by its calling code. North America shares `+1` among the US, Canada
//! and about twenty Caribbean and Pacific countries and territories, told apart by the area
//! code: the non-US ones are listed here (NANPA's assignments; US territories such as Puerto
//! Rico have their own ISO codes), every other geographic area code counts as US (new US
//! codes open every year; a Canadian code opened after this list counts as US until added,
//! which changes nothing while both are allowed, as by default). Area codes of no place
//! (toll-free, premium `900`, personal and carrier services, codes not yet opened) belong
//! to no country and are never allowed. Outside North America the calling code alone is
//! used: countries that share one (`+7` Russia and Kazakhstan, `+44` the UK, Guernsey,
//! Jersey and the Isle of Man) are allowed together. Codes of no country (`+800` freephone,
//! `+882`/`+883` international networks, `+979` premium) are never allowed.
//!
//! Why not the `phonenumber` crate (libphonenumber's metadata): it would add about fifteen
//! crates (nom, quick-xml, postcard, heapless, regex-cache, strum...) and a build step that
//! compiles Google's XML metadata, to answer one question that two short tables answer.

/// The countries sharing the `+1` calling code besides the US: area code and ISO 3166 code.
const NANP_ELSEWHERE: &[(&str, &str)] = &[
    ("242", "BS"),
    ("246", "BB"),
    ("264", "AI"),
    ("268", "AG"),
    ("284", "VG"),
    ("340", "VI"),
    ("345", "KY"),
    ("441", "BM"),
    ("473", "GD"),
    ("649", "TC"),
    ("658", "JM"),
    ("664", "MS"),
    ("670", "MP"),
    ("671", "GU"),
    ("684", "AS"),
    ("721", "SX"),
    ("758", "LC"),
    ("767", "DM"),
    ("784", "VC"),
    ("787", "PR"),
    ("809", "DO"),
    ("829", "DO"),
    ("849", "DO"),
    ("868", "TT"),
    ("869", "KN"),
    ("876", "JM"),
    ("939", "PR"),
];

/// Canada's geographic area codes.
const CANADA: &[&str] = &[
    "204", "226", "236", "249", "250", "257", "263", "289", "306", "343", "354", "365", "367", "368", "382", "387",
    "403", "416", "418", "428", "431", "437", "438", "450", "460", "468", "474", "506", "514", "519", "548", "579",
    "581", "584", "587", "604", "613", "639", "647", "672", "683", "705", "709", "742", "753", "778", "780", "782",
    "807", "819", "825", "867", "873", "879", "902", "905", "942",
];

/// Calling codes outside North America and the countries using each (ITU-T E.164 list).
/// Calling codes are prefix-free, so a number matches at most one.
const CALLING_CODES: &[(&str, &[&str])] = &[
    ("20", &["EG"]),
    ("211", &["SS"]),
    ("212", &["MA", "EH"]),
    ("213", &["DZ"]),
    ("216", &["TN"]),
    ("218", &["LY"]),
    ("220", &["GM"]),
    ("221", &["SN"]),
    ("222", &["MR"]),
    ("223", &["ML"]),
    ("224", &["GN"]),
    ("225", &["CI"]),
    ("226", &["BF"]),
    ("227", &["NE"]),
    ("228", &["TG"]),
    ("229", &["BJ"]),
    ("230", &["MU"]),
    ("231", &["LR"]),
    ("232", &["SL"]),
    ("233", &["GH"]),
    ("234", &["NG"]),
    ("235", &["TD"]),
    ("236", &["CF"]),
    ("237", &["CM"]),
    ("238", &["CV"]),
    ("239", &["ST"]),
    ("240", &["GQ"]),
    ("241", &["GA"]),
    ("242", &["CG"]),
    ("243", &["CD"]),
    ("244", &["AO"]),
    ("245", &["GW"]),
    ("246", &["IO"]),
    ("247", &["AC"]),
    ("248", &["SC"]),
    ("249", &["SD"]),
    ("250", &["RW"]),
    ("251", &["ET"]),
    ("252", &["SO"]),
    ("253", &["DJ"]),
    ("254", &["KE"]),
    ("255", &["TZ"]),
    ("256", &["UG"]),
    ("257", &["BI"]),
    ("258", &["MZ"]),
    ("260", &["ZM"]),
    ("261", &["MG"]),
    ("262", &["RE", "YT"]),
    ("263", &["ZW"]),
    ("264", &["NA"]),
    ("265", &["MW"]),
    ("266", &["LS"]),
    ("267", &["BW"]),
    ("268", &["SZ"]),
    ("269", &["KM"]),
    ("27", &["ZA"]),
    ("290", &["SH", "TA"]),
    ("291", &["ER"]),
    ("297", &["AW"]),
    ("298", &["FO"]),
    ("299", &["GL"]),
    ("30", &["GR"]),
    ("31", &["NL"]),
    ("32", &["BE"]),
    ("33", &["FR"]),
    ("34", &["ES"]),
    ("350", &["GI"]),
    ("351", &["PT"]),
    ("352", &["LU"]),
    ("353", &["IE"]),
    ("354", &["IS"]),
    ("355", &["AL"]),
    ("356", &["MT"]),
    ("357", &["CY"]),
    ("358", &["FI", "AX"]),
    ("359", &["BG"]),
    ("36", &["HU"]),
    ("370", &["LT"]),
    ("371", &["LV"]),
    ("372", &["EE"]),
    ("373", &["MD"]),
    ("374", &["AM"]),
    ("375", &["BY"]),
    ("376", &["AD"]),
    ("377", &["MC"]),
    ("378", &["SM"]),
    ("380", &["UA"]),
    ("381", &["RS"]),
    ("382", &["ME"]),
    ("383", &["XK"]),
    ("385", &["HR"]),
    ("386", &["SI"]),
    ("387", &["BA"]),
    ("389", &["MK"]),
    ("39", &["IT", "VA"]),
    ("40", &["RO"]),
    ("41", &["CH"]),
    ("420", &["CZ"]),
    ("421", &["SK"]),
    ("423", &["LI"]),
    ("43", &["AT"]),
    ("44", &["GB", "GG", "IM", "JE"]),
    ("45", &["DK"]),
    ("46", &["SE"]),
    ("47", &["NO", "SJ"]),
    ("48", &["PL"]),
    ("49", &["DE"]),
    ("500", &["FK"]),
    ("501", &["BZ"]),
    ("502", &["GT"]),
    ("503", &["SV"]),
    ("504", &["HN"]),
    ("505", &["NI"]),
    ("506", &["CR"]),
    ("507", &["PA"]),
    ("508", &["PM"]),
    ("509", &["HT"]),
    ("51", &["PE"]),
    ("52", &["MX"]),
    ("53", &["CU"]),
    ("54", &["AR"]),
    ("55", &["BR"]),
    ("56", &["CL"]),
    ("57", &["CO"]),
    ("58", &["VE"]),
    ("590", &["GP", "BL", "MF"]),
    ("591", &["BO"]),
    ("592", &["GY"]),
    ("593", &["EC"]),
    ("594", &["GF"]),
    ("595", &["PY"]),
    ("596", &["MQ"]),
    ("597", &["SR"]),
    ("598", &["UY"]),
    ("599", &["CW", "BQ"]),
    ("60", &["MY"]),
    ("61", &["AU", "CX", "CC"]),
    ("62", &["ID"]),
    ("63", &["PH"]),
    ("64", &["NZ"]),
    ("65", &["SG"]),
    ("66", &["TH"]),
    ("670", &["TL"]),
    ("672", &["NF"]),
    ("673", &["BN"]),
    ("674", &["NR"]),
    ("675", &["PG"]),
    ("676", &["TO"]),
    ("677", &["SB"]),
    ("678", &["VU"]),
    ("679", &["FJ"]),
    ("680", &["PW"]),
    ("681", &["WF"]),
    ("682", &["CK"]),
    ("683", &["NU"]),
    ("685", &["WS"]),
    ("686", &["KI"]),
    ("687", &["NC"]),
    ("688", &["TV"]),
    ("689", &["PF"]),
    ("690", &["TK"]),
    ("691", &["FM"]),
    ("692", &["MH"]),
    ("7", &["RU", "KZ"]),
    ("81", &["JP"]),
    ("82", &["KR"]),
    ("84", &["VN"]),
    ("850", &["KP"]),
    ("852", &["HK"]),
    ("853", &["MO"]),
    ("855", &["KH"]),
    ("856", &["LA"]),
    ("86", &["CN"]),
    ("880", &["BD"]),
    ("886", &["TW"]),
    ("90", &["TR"]),
    ("91", &["IN"]),
    ("92", &["PK"]),
    ("93", &["AF"]),
    ("94", &["LK"]),
    ("95", &["MM"]),
    ("960", &["MV"]),
    ("961", &["LB"]),
    ("962", &["JO"]),
    ("963", &["SY"]),
    ("964", &["IQ"]),
    ("965", &["KW"]),
    ("966", &["SA"]),
    ("967", &["YE"]),
    ("968", &["OM"]),
    ("970", &["PS"]),
    ("971", &["AE"]),
    ("972", &["IL"]),
    ("973", &["BH"]),
    ("974", &["QA"]),
    ("975", &["BT"]),
    ("976", &["MN"]),
    ("977", &["NP"]),
    ("98", &["IR"]),
    ("992", &["TJ"]),
    ("993", &["TM"]),
    ("994", &["AZ"]),
    ("995", &["GE"]),
    ("996", &["KG"]),
    ("998", &["UZ"]),
];

/// The countries `number` (E.164, `+` and digits) may ring in, as ISO 3166 alpha-2 codes:
/// exactly one for a North American number, every country sharing the calling code
/// elsewhere, none for a number of no country or one that is not E.164.
pub fn countries_of(number: &str) -> &'static [&'static str] {
    let Some(digits) = number.strip_prefix('+').filter(|d| d.bytes().all(|b| b.is_ascii_digit())) else {
        return &[];
    };
    if let Some(national) = digits.strip_prefix('1') {
        return nanp_country(national);
    }
    CALLING_CODES.iter().find(|(code, _)| digits.starts_with(code)).map_or(&[], |(_, countries)| countries)
}

/// Whether `number` rings in one of `allowed` (ISO codes, upper case).
pub fn is_in(number: &str, allowed: &[String]) -> bool {
    countries_of(number).iter().any(|country| allowed.iter().any(|a| a == country))
}

/// Whether `code` is an ISO 3166 alpha-2 code of a country this module can tell a number
/// is in (upper case).
pub fn is_known_country(code: &str) -> bool {
    code == "US"
        || code == "CA"
        || NANP_ELSEWHERE.iter().any(|(_, country)| *country == code)
        || CALLING_CODES.iter().any(|(_, countries)| countries.contains(&code))
}

/// The country of a North American number's ten digits (area code, exchange, line).
fn nanp_country(national: &str) -> &'static [&'static str] {
    let digits = national.as_bytes();
    // NXX-NXX-XXXX: area code and exchange start with 2-9.
    if digits.len() != 10 || digits[0] < b'2' || digits[3] < b'2' {
        return &[];
    }
    let area = &national[..3];
    if !is_geographic_area_code(area) {
        return &[];
    }
    if CANADA.contains(&area) {
        return &["CA"];
    }
    match NANP_ELSEWHERE.iter().find(|(code, _)| *code == area) {
        Some((_, country)) => std::slice::from_ref(country),
        None => &["US"],
    }
}

/// Whether a North American area code can be a place. Not: the easily recognisable codes
/// (second and third digit the same: `N00`, `N11` services, toll-free `8XX` of that form,
/// premium `900`, personal services `5XX`, Canada's non-geographic `600`/`622`/`633`),
/// `N9X` and `37X` (held for expansion), the rest of the toll-free reserve (`880`-`889`),
/// `456` (international inbound), `52X` other than `520` (personal services), and `710`
/// (US government).
fn is_geographic_area_code(area: &str) -> bool {
    let digits = area.as_bytes();
    let (middle, last) = (digits[1], digits[2]);
    let easily_recognisable = middle == last;
    let reserved = middle == b'9' || area.starts_with("37") || area.starts_with("88");
    let services = matches!(area, "456" | "710") || (area.starts_with("52") && area != "520");
    !(easily_recognisable || reserved || services)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn north_american_numbers_are_told_apart_by_area_code() {
        assert_eq!(countries_of("+13125550199"), ["US"]);
        assert_eq!(countries_of("+14165550199"), ["CA"]);
        assert_eq!(countries_of("+16045550199"), ["CA"]);
        assert_eq!(countries_of("+18765550199"), ["JM"]);
        assert_eq!(countries_of("+17875550199"), ["PR"]);
        assert_eq!(countries_of("+18095550199"), ["DO"]);
    }

    #[test]
    fn north_american_codes_of_no_place_are_in_no_country() {
        for number in [
            "+19005550199", // premium
            "+18005550199", // toll-free
            "+18885550199",
            "+18335550199",
            "+18825550199",
            "+15005550199", // personal services
            "+15215550199",
            "+14565550199",
            "+12115550199", // N11
            "+12905550199", // held for expansion
            "+13705550199",
            "+16005550199", // Canada, non-geographic
            "+13121550199", // exchange starting with 1
            "+1312555019",  // nine digits
            "+131255501990",
        ] {
            assert!(countries_of(number).is_empty(), "{number}: {:?}", countries_of(number));
        }
        assert_eq!(countries_of("+15205550199"), ["US"], "520 is Arizona");
    }

    #[test]
    fn elsewhere_the_calling_code_decides() {
        assert_eq!(countries_of("+442079460000"), ["GB", "GG", "IM", "JE"]);
        assert_eq!(countries_of("+33142685300"), ["FR"]);
        assert_eq!(countries_of("+74951234567"), ["RU", "KZ"]);
        assert_eq!(countries_of("+35312345678"), ["IE"]);
        for number in ["+8821234567890", "+80012345678", "+9791234567", "+2101234567", "13125550199", "+1312a550199"] {
            assert!(countries_of(number).is_empty(), "{number}");
        }
    }

    #[test]
    fn a_number_is_allowed_when_one_of_its_countries_is() {
        let allowed = ["US".to_owned(), "CA".to_owned()];
        assert!(is_in("+13125550199", &allowed));
        assert!(is_in("+14165550199", &allowed));
        assert!(!is_in("+18765550199", &allowed));
        assert!(!is_in("+8821234567890", &allowed));
        assert!(!is_in("+19005550199", &allowed));
        assert!(is_in("+447911123456", &["JE".to_owned()]));
        assert!(!is_in("+14165550199", &["US".to_owned()]));
    }

    #[test]
    fn every_listed_country_is_known_and_calling_codes_are_prefix_free() {
        for code in ["US", "CA", "JM", "PR", "GB", "JE", "FR", "AU", "KZ"] {
            assert!(is_known_country(code), "{code}");
        }
        for code in ["UK", "XX", "us", ""] {
            assert!(!is_known_country(code), "{code}");
        }
        for (a, _) in CALLING_CODES {
            assert!(!a.starts_with('1'), "{a} is North American");
            for (b, _) in CALLING_CODES {
                assert!(a == b || !b.starts_with(a), "{a} is a prefix of {b}");
            }
        }
        for (area, _) in NANP_ELSEWHERE {
            assert!(is_geographic_area_code(area) && !CANADA.contains(area), "{area}");
        }
        assert!(CANADA.iter().all(|area| is_geographic_area_code(area)));
    }
}
