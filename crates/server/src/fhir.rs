//! Claims in FHIR R4, as US payers publish them (the CARIN Blue Button implementation guide):
//! Bundles (collection, batch, searchset) and NDJSON files of ExplanationOfBenefit resources and
//! the Patient, Coverage, Organization and Practitioner resources they reference, read into plain
//! claims: identifier, type, billable period, provider and facility, outcome, lines with every
//! adjudication category, totals and the benefit balance.
//!
//! Typed serde structs for the elements read, tolerant of every other element. Nothing is
//! "corrected": an EOB that reports a copay and a member liability of 0 is kept as it says. Every
//! problem names the file, the resource id and the JSON path; one problem refuses the whole set,
//! so an import writes all of it or nothing. Amounts are exact: a FHIR decimal with more than two
//! places, or in another currency than USD, is refused, never rounded.
//!
//! This module reads; `import` stores what it reads. It imports nothing of the crate.

use std::collections::HashMap;
use std::fmt;

use carebill_billing::Money;
use chrono::NaiveDate;
use serde::Deserialize;

/// A problem with the input: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FhirError {
    pub file: String,
    /// The resource's id, when the problem is inside one.
    pub resource: Option<String>,
    /// A JSON path into the resource (or the file): `item[1].adjudication[0].amount.currency`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for FhirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resource {
            Some(r) => write!(f, "{}: {r} at {}: {}", self.file, self.path, self.message),
            None => write!(f, "{} at {}: {}", self.file, self.path, self.message),
        }
    }
}

// --- The elements read ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Coding {
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    display: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct CodeableConcept {
    #[serde(default)]
    coding: Vec<Coding>,
    #[serde(default)]
    text: Option<String>,
}

impl CodeableConcept {
    fn code(&self) -> Option<&str> {
        self.coding.iter().find_map(|c| c.code.as_deref())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Identifier {
    #[serde(default, rename = "type")]
    kind: Option<CodeableConcept>,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Reference {
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    identifier: Option<Identifier>,
    #[serde(default)]
    display: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Period {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct MoneyValue {
    #[serde(default)]
    value: Option<serde_json::Number>,
    #[serde(default)]
    currency: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Adjudication {
    #[serde(default)]
    category: CodeableConcept,
    #[serde(default)]
    amount: Option<MoneyValue>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    #[serde(default)]
    sequence: Option<u32>,
    #[serde(default)]
    revenue: Option<CodeableConcept>,
    #[serde(default)]
    product_or_service: Option<CodeableConcept>,
    #[serde(default)]
    serviced_date: Option<String>,
    #[serde(default)]
    serviced_period: Option<Period>,
    #[serde(default)]
    quantity: Option<Quantity>,
    #[serde(default)]
    adjudication: Vec<Adjudication>,
}

#[derive(Debug, Clone, Deserialize)]
struct Quantity {
    #[serde(default)]
    value: Option<serde_json::Number>,
}

#[derive(Debug, Clone, Deserialize)]
struct Total {
    #[serde(default)]
    category: CodeableConcept,
    amount: Option<MoneyValue>,
}

#[derive(Debug, Clone, Deserialize)]
struct Related {
    #[serde(default)]
    claim: Option<Reference>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Financial {
    #[serde(default, rename = "type")]
    kind: CodeableConcept,
    #[serde(default)]
    allowed_money: Option<MoneyValue>,
    #[serde(default)]
    used_money: Option<MoneyValue>,
}

#[derive(Debug, Clone, Deserialize)]
struct BenefitBalance {
    #[serde(default)]
    financial: Vec<Financial>,
}

#[derive(Debug, Clone, Deserialize)]
struct Insurance {
    #[serde(default)]
    coverage: Option<Reference>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CareTeam {
    #[serde(default)]
    provider: Option<Reference>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Eob {
    #[serde(default)]
    identifier: Vec<Identifier>,
    status: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<CodeableConcept>,
    #[serde(default)]
    sub_type: Option<CodeableConcept>,
    patient: Option<Reference>,
    #[serde(default)]
    billable_period: Option<Period>,
    #[serde(default)]
    provider: Option<Reference>,
    #[serde(default)]
    facility: Option<Reference>,
    #[serde(default)]
    care_team: Vec<CareTeam>,
    #[serde(default)]
    insurer: Option<Reference>,
    #[serde(default)]
    insurance: Vec<Insurance>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    related: Vec<Related>,
    #[serde(default)]
    item: Vec<Item>,
    #[serde(default)]
    adjudication: Vec<Adjudication>,
    #[serde(default)]
    total: Vec<Total>,
    #[serde(default)]
    benefit_balance: Vec<BenefitBalance>,
}

#[derive(Debug, Clone, Deserialize)]
struct HumanName {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    given: Vec<String>,
}

// --- What comes out ------------------------------------------------------------------------------

/// The kinds of claim the CARIN profiles describe: the contract's own.
pub use carebill_api::types::ClaimKind;

/// One adjudication: its category code as the EOB says it (`submitted`, `eligible`,
/// `deductible`, `copay`, `coinsurance`, `noncovered`, `benefit`, `memberliability`, ...), and
/// the amount (negative on a reversal line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    pub category: String,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimLine {
    pub sequence: u32,
    pub service_date: Option<NaiveDate>,
    /// The CPT/HCPCS (or NDC) code of the service, or the revenue code when that is all there is.
    pub code: Option<String>,
    pub code_system: Option<String>,
    pub display: Option<String>,
    pub revenue_code: Option<String>,
    pub quantity: Option<String>,
    pub adjudications: Vec<Amount>,
}

/// A claim as the EOB states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The file it came from.
    pub file: String,
    /// The resource id in its file.
    pub resource_id: String,
    /// The payer's claim identifier (CARIN `uc`, else the first identifier).
    pub identifier: String,
    pub cancelled: bool,
    pub kind: ClaimKind,
    /// The member number (Patient identifier of type `MB`) of the patient.
    pub member_number: String,
    pub billable_from: Option<NaiveDate>,
    pub billable_to: Option<NaiveDate>,
    pub provider: Option<String>,
    pub facility: Option<String>,
    pub outcome: Option<String>,
    /// Identifiers of the claims this one replaces (`related.claim`).
    pub replaces: Vec<String>,
    pub lines: Vec<ClaimLine>,
    /// Header-level adjudications (inpatient EOBs carry their amounts here).
    pub adjudications: Vec<Amount>,
    pub totals: Vec<Amount>,
    /// `benefitBalance` financial figures: (type code, allowed, used).
    pub benefit_balance: Vec<(String, Option<Money>, Option<Money>)>,
}

impl Claim {
    /// A total by category, as the EOB gives it; else the lines' sum (reversal lines net out).
    pub fn total(&self, category: &str) -> Option<Money> {
        if let Some(t) = self.totals.iter().find(|t| t.category == category) {
            return Some(t.amount);
        }
        let of_lines: Vec<Money> = self
            .lines
            .iter()
            .flat_map(|l| l.adjudications.iter())
            .chain(self.adjudications.iter())
            .filter(|a| a.category == category)
            .map(|a| a.amount)
            .collect();
        (!of_lines.is_empty()).then(|| of_lines.into_iter().sum())
    }
}

/// Everything read from the files of one import.
#[derive(Debug, Default)]
pub struct ClaimSet {
    pub claims: Vec<Claim>,
}

/// The raw resources of an import, by `Type/id`, before references are followed.
#[derive(Default)]
pub struct Reader {
    /// Each EOB as read straight into its typed elements (no JSON tree kept): its file, its id,
    /// and the elements or why they could not be read (reported by `read`, with the rest).
    eobs: Vec<(String, String, Result<Eob, String>)>,
    others: HashMap<String, (String, serde_json::Value)>,
    /// A Bundle entry's `fullUrl` (`urn:uuid:...`, or an absolute URL) -> `Type/id`: references
    /// inside a Bundle may use either.
    aliases: HashMap<String, String>,
}

/// What a line of NDJSON is, read before the rest of it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    #[serde(default)]
    resource_type: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

impl Reader {
    pub fn new() -> Reader {
        Reader::default()
    }

    /// Adds one file: a Bundle (JSON) or NDJSON (one resource a line).
    pub fn add_file(&mut self, name: &str, text: &str) -> Result<(), FhirError> {
        let err = |path: String, message: String| FhirError {
            file: name.to_string(),
            resource: None,
            path,
            message,
        };
        let trimmed = text.trim_start();
        let whole: Option<serde_json::Value> = if trimmed.starts_with('{') {
            serde_json::from_str(text).ok()
        } else {
            None
        };
        match whole {
            Some(v) if v.get("resourceType").and_then(|t| t.as_str()) == Some("Bundle") => {
                let kind = v.get("type").and_then(|t| t.as_str()).unwrap_or_default();
                if !["collection", "batch", "searchset", "transaction"].contains(&kind) {
                    return Err(err(
                        "type".into(),
                        format!("a Bundle of type {kind:?} is not a set of resources to import"),
                    ));
                }
                let entries = v.get("entry").and_then(|e| e.as_array()).cloned().unwrap_or_default();
                for (i, entry) in entries.into_iter().enumerate() {
                    let Some(resource) = entry.get("resource").cloned() else {
                        return Err(err(format!("entry[{i}]"), "an entry without a resource".into()));
                    };
                    if let (Some(url), Some(kind), Some(id)) = (
                        entry.get("fullUrl").and_then(|u| u.as_str()),
                        resource.get("resourceType").and_then(|t| t.as_str()),
                        resource.get("id").and_then(|t| t.as_str()),
                    ) {
                        self.aliases.insert(url.to_string(), format!("{kind}/{id}"));
                    }
                    self.add(name, resource, &format!("entry[{i}].resource"))?;
                }
                Ok(())
            }
            Some(v) => self.add(name, v, ""),
            None => {
                for (n, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let at = || format!("line {}", n + 1);
                    // The resource's type and id first; an EOB is then read straight into its
                    // typed elements (a large export is mostly EOBs: no JSON tree for them).
                    let head: Head = serde_json::from_str(line).map_err(|e| err(at(), format!("not JSON: {e}")))?;
                    if head.resource_type.as_deref() == Some("ExplanationOfBenefit") {
                        let Some(id) = head.id else {
                            return Err(err(
                                format!("{}.id", at()),
                                "a ExplanationOfBenefit without an id".into(),
                            ));
                        };
                        let eob = serde_json::from_str::<Eob>(line).map_err(|e| e.to_string());
                        self.eobs.push((name.to_string(), id, eob));
                        continue;
                    }
                    let v: serde_json::Value =
                        serde_json::from_str(line).map_err(|e| err(at(), format!("not JSON: {e}")))?;
                    self.add(name, v, &at())?;
                }
                Ok(())
            }
        }
    }

    fn add(&mut self, file: &str, v: serde_json::Value, at: &str) -> Result<(), FhirError> {
        let kind = v
            .get("resourceType")
            .and_then(|t| t.as_str())
            .unwrap_or_default()
            .to_string();
        let id = v.get("id").and_then(|t| t.as_str()).map(str::to_string);
        let Some(id) = id else {
            return Err(FhirError {
                file: file.to_string(),
                resource: None,
                path: format!("{at}.id").trim_start_matches('.').to_string(),
                message: format!("a {kind} without an id"),
            });
        };
        match kind.as_str() {
            "ExplanationOfBenefit" => {
                let eob = Eob::deserialize(&v).map_err(|e| e.to_string());
                self.eobs.push((file.to_string(), id, eob));
            }
            "Patient" | "Coverage" | "Organization" | "Practitioner" => {
                self.others.insert(format!("{kind}/{id}"), (file.to_string(), v));
            }
            // Other resources a payer's export carries are not read.
            _ => {}
        }
        Ok(())
    }

    /// Reads every EOB into a claim, following its references; the first problem refuses all.
    pub fn read(self) -> Result<ClaimSet, FhirError> {
        let mut claims = Vec::with_capacity(self.eobs.len());
        for (file, id, eob) in &self.eobs {
            let at = |path: &str, message: String| FhirError {
                file: file.clone(),
                resource: Some(format!("ExplanationOfBenefit/{id}")),
                path: path.to_string(),
                message,
            };
            let eob = eob
                .as_ref()
                .map_err(|e| at("", format!("not an ExplanationOfBenefit: {e}")))?;
            let mut claim = self.claim(eob, id, &at)?;
            claim.file = file.clone();
            claims.push(claim);
        }
        Ok(ClaimSet { claims })
    }

    fn resolve(&self, r: &Reference) -> Option<&serde_json::Value> {
        let key = r.reference.as_deref()?;
        if let Some(alias) = self.aliases.get(key) {
            return self.others.get(alias).map(|(_, v)| v);
        }
        // `Patient/123`, or a full URL ending in it.
        let key = key.rsplit('/').take(2).collect::<Vec<_>>();
        if key.len() != 2 {
            return None;
        }
        self.others.get(&format!("{}/{}", key[1], key[0])).map(|(_, v)| v)
    }

    fn name_of(&self, r: &Reference) -> Option<String> {
        if let Some(name) = self.resolve(r).and_then(|v| v.get("name")) {
            if let Some(s) = name.as_str() {
                return Some(s.to_string());
            }
            if let Ok(names) = serde_json::from_value::<Vec<HumanName>>(name.clone())
                && let Some(n) = names.first()
            {
                return Some(n.text.clone().unwrap_or_else(|| {
                    let mut parts = n.given.clone();
                    parts.extend(n.family.clone());
                    parts.join(" ")
                }));
            }
        }
        r.display.clone()
    }

    fn claim(&self, eob: &Eob, id: &str, at: &dyn Fn(&str, String) -> FhirError) -> Result<Claim, FhirError> {
        let identifier = eob
            .identifier
            .iter()
            .find(|i| i.kind.as_ref().and_then(|k| k.code()) == Some("uc"))
            .or_else(|| eob.identifier.first())
            .and_then(|i| i.value.clone())
            .ok_or_else(|| at("identifier", "no claim identifier".into()))?;
        let status = eob.status.clone().ok_or_else(|| at("status", "no status".into()))?;
        let kind = match (
            eob.kind.as_ref().and_then(|k| k.code()),
            eob.sub_type.as_ref().and_then(|k| k.code()),
        ) {
            (Some("institutional"), Some("inpatient")) => ClaimKind::Inpatient,
            (Some("institutional"), _) => ClaimKind::Outpatient,
            (Some("professional"), _) => ClaimKind::Professional,
            (Some("pharmacy"), _) => ClaimKind::Pharmacy,
            (Some("oral"), _) => ClaimKind::Oral,
            (other, _) => return Err(at("type", format!("a claim type this import does not know: {other:?}"))),
        };
        let patient_ref = eob.patient.as_ref().ok_or_else(|| at("patient", "no patient".into()))?;
        let patient = self.resolve(patient_ref).ok_or_else(|| {
            at(
                "patient.reference",
                format!("{:?} is not in the import", patient_ref.reference),
            )
        })?;
        let member_number = patient
            .get("identifier")
            .and_then(|ids| serde_json::from_value::<Vec<Identifier>>(ids.clone()).ok())
            .and_then(|ids| {
                ids.into_iter()
                    .find(|i| i.kind.as_ref().and_then(|k| k.code()) == Some("MB"))
                    .and_then(|i| i.value)
            })
            .ok_or_else(|| {
                at(
                    "patient.reference",
                    "the patient has no member number (identifier of type MB)".into(),
                )
            })?;
        // Every reference to a resource of the import must be in it (a reference by identifier
        // or display alone is not one).
        let mut references: Vec<(String, &Reference)> = Vec::new();
        for (path, r) in [
            ("provider", &eob.provider),
            ("facility", &eob.facility),
            ("insurer", &eob.insurer),
        ] {
            references.extend(r.as_ref().map(|r| (path.to_string(), r)));
        }
        for (i, c) in eob.care_team.iter().enumerate() {
            references.extend(c.provider.as_ref().map(|r| (format!("careTeam[{i}].provider"), r)));
        }
        for (i, c) in eob.insurance.iter().enumerate() {
            references.extend(c.coverage.as_ref().map(|r| (format!("insurance[{i}].coverage"), r)));
        }
        for (path, r) in references {
            if r.reference.is_some() && self.resolve(r).is_none() {
                return Err(at(
                    &format!("{path}.reference"),
                    format!("{:?} is not in the import", r.reference),
                ));
            }
        }
        let date = |s: &Option<String>, path: &str| -> Result<Option<NaiveDate>, FhirError> {
            match s {
                None => Ok(None),
                Some(s) => NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| at(path, format!("{s:?} is not a date"))),
            }
        };
        let period = eob.billable_period.clone().unwrap_or_default();
        let amounts = |list: &[Adjudication], path: &str| -> Result<Vec<Amount>, FhirError> {
            list.iter()
                .enumerate()
                .filter_map(|(i, a)| {
                    let category = a.category.code()?.to_string();
                    let amount = a.amount.as_ref()?;
                    Some(money(amount, &format!("{path}[{i}].amount"), at).map(|amount| Amount { category, amount }))
                })
                .collect()
        };
        let mut lines = Vec::with_capacity(eob.item.len());
        for (i, item) in eob.item.iter().enumerate() {
            let service = item.product_or_service.as_ref().and_then(|p| p.coding.first()).cloned();
            let served = item
                .serviced_date
                .clone()
                .or_else(|| item.serviced_period.as_ref().and_then(|p| p.start.clone()));
            lines.push(ClaimLine {
                sequence: item.sequence.unwrap_or(i as u32 + 1),
                service_date: date(&served, &format!("item[{i}].servicedDate"))?,
                code: service.as_ref().and_then(|c| c.code.clone()),
                code_system: service.as_ref().and_then(|c| c.system.clone()),
                display: service
                    .as_ref()
                    .and_then(|c| c.display.clone())
                    .or_else(|| item.product_or_service.as_ref().and_then(|p| p.text.clone())),
                revenue_code: item.revenue.as_ref().and_then(|r| r.code()).map(str::to_string),
                quantity: item
                    .quantity
                    .as_ref()
                    .and_then(|q| q.value.as_ref())
                    .map(|n| n.to_string()),
                adjudications: amounts(&item.adjudication, &format!("item[{i}].adjudication"))?,
            });
        }
        let mut totals = Vec::new();
        for (i, t) in eob.total.iter().enumerate() {
            let (Some(category), Some(amount)) = (t.category.code(), &t.amount) else {
                return Err(at(
                    &format!("total[{i}]"),
                    "a total without its category or amount".into(),
                ));
            };
            totals.push(Amount {
                category: category.to_string(),
                amount: money(amount, &format!("total[{i}].amount"), at)?,
            });
        }
        let mut benefit_balance = Vec::new();
        for (b, balance) in eob.benefit_balance.iter().enumerate() {
            for (f, fin) in balance.financial.iter().enumerate() {
                let path = format!("benefitBalance[{b}].financial[{f}]");
                let Some(kind) = fin.kind.code() else { continue };
                let allowed = fin
                    .allowed_money
                    .as_ref()
                    .map(|m| money(m, &format!("{path}.allowedMoney"), at))
                    .transpose()?;
                let used = fin
                    .used_money
                    .as_ref()
                    .map(|m| money(m, &format!("{path}.usedMoney"), at))
                    .transpose()?;
                benefit_balance.push((kind.to_string(), allowed, used));
            }
        }
        let provider = eob.provider.as_ref().and_then(|r| self.name_of(r)).or_else(|| {
            eob.care_team
                .iter()
                .find_map(|c| c.provider.as_ref().and_then(|r| self.name_of(r)))
        });
        Ok(Claim {
            file: String::new(),
            resource_id: id.to_string(),
            identifier,
            cancelled: status == "cancelled",
            kind,
            member_number,
            billable_from: date(&period.start, "billablePeriod.start")?,
            billable_to: date(&period.end, "billablePeriod.end")?,
            provider,
            facility: eob.facility.as_ref().and_then(|r| self.name_of(r)),
            outcome: eob.outcome.clone(),
            replaces: eob
                .related
                .iter()
                .filter_map(|r| r.claim.as_ref()?.identifier.as_ref()?.value.clone())
                .collect(),
            lines,
            adjudications: amounts(&eob.adjudication, "adjudication")?,
            totals,
            benefit_balance,
        })
    }
}

/// A FHIR Money: USD, at most two decimals, exactly.
fn money(m: &MoneyValue, path: &str, at: &dyn Fn(&str, String) -> FhirError) -> Result<Money, FhirError> {
    match m.currency.as_deref() {
        Some("USD") | None => {}
        Some(other) => return Err(at(&format!("{path}.currency"), format!("{other} is not USD"))),
    }
    let value = m
        .value
        .as_ref()
        .ok_or_else(|| at(&format!("{path}.value"), "no value".into()))?;
    let text = value.to_string();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let amount = Money::parse(digits).map_err(|e| {
        let why = match e {
            carebill_billing::MoneyError::TooManyDecimals => "has more than two decimal places",
            _ => "is not an amount",
        };
        at(&format!("{path}.value"), format!("{text} {why}"))
    })?;
    Ok(if negative {
        Money::from_cents(-amount.cents())
    } else {
        amount
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient(id: &str, member: &str) -> serde_json::Value {
        serde_json::json!({"resourceType": "Patient", "id": id,
            "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB"}]}, "value": member}],
            "name": [{"family": "Example", "given": ["Johnny"]}]})
    }

    fn org(id: &str, name: &str) -> serde_json::Value {
        serde_json::json!({"resourceType": "Organization", "id": id, "name": name})
    }

    fn adj(code: &str, value: f64) -> serde_json::Value {
        serde_json::json!({"category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication", "code": code}]},
            "amount": {"value": value, "currency": "USD"}})
    }

    fn eob(id: &str, kind: &str, sub: Option<&str>, items: Vec<serde_json::Value>) -> serde_json::Value {
        let mut e = serde_json::json!({"resourceType": "ExplanationOfBenefit", "id": id,
            "identifier": [{"type": {"coding": [{"code": "uc"}]}, "value": format!("UC-{id}")}],
            "status": "active",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": kind}]},
            "patient": {"reference": "Patient/p1"},
            "billablePeriod": {"start": "2026-10-01", "end": "2026-10-03"},
            "provider": {"reference": "Organization/o1"},
            "outcome": "complete",
            "item": items});
        if let Some(s) = sub {
            e["subType"] = serde_json::json!({"coding": [{"code": s}]});
        }
        e
    }

    fn line(seq: u32, code: &str, adjs: Vec<serde_json::Value>) -> serde_json::Value {
        serde_json::json!({"sequence": seq, "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": code, "display": "Office visit"}]},
            "servicedDate": "2026-10-01", "quantity": {"value": 1}, "adjudication": adjs})
    }

    fn bundle(resources: Vec<serde_json::Value>) -> String {
        serde_json::json!({"resourceType": "Bundle", "type": "collection",
            "entry": resources.into_iter().map(|r| serde_json::json!({"resource": r})).collect::<Vec<_>>()})
        .to_string()
    }

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn the_four_claim_types_read_with_their_lines_and_every_adjudication() {
        let resources = vec![
            patient("p1", "88800933501"),
            org("o1", "Orange Medical Group"),
            eob(
                "inp",
                "institutional",
                Some("inpatient"),
                vec![line(
                    1,
                    "0450",
                    vec![
                        adj("submitted", 2000.0),
                        adj("memberliability", 0.0),
                        adj("copay", 50.0),
                    ],
                )],
            ),
            eob(
                "out",
                "institutional",
                Some("outpatient"),
                vec![line(1, "0450", vec![adj("submitted", 500.0)])],
            ),
            eob(
                "pro",
                "professional",
                None,
                vec![
                    line(
                        1,
                        "99213",
                        vec![
                            adj("submitted", 250.0),
                            adj("eligible", 120.5),
                            adj("deductible", 100.0),
                            adj("coinsurance", 4.1),
                            adj("benefit", 16.4),
                            adj("memberliability", 104.1),
                        ],
                    ),
                    // A reversal of part of the line: amounts net out.
                    line(2, "99213", vec![adj("submitted", -50.0), adj("memberliability", -4.1)]),
                ],
            ),
            eob(
                "rx",
                "pharmacy",
                None,
                vec![line(
                    1,
                    "00093-7180",
                    vec![adj("submitted", 30.0), adj("paidbypatient", 10.0)],
                )],
            ),
        ];
        let mut r = Reader::new();
        r.add_file("claims.json", &bundle(resources)).unwrap();
        let set = r.read().unwrap();
        let kinds: Vec<ClaimKind> = set.claims.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            vec![
                ClaimKind::Inpatient,
                ClaimKind::Outpatient,
                ClaimKind::Professional,
                ClaimKind::Pharmacy
            ]
        );
        let inp = &set.claims[0];
        assert_eq!(
            (inp.identifier.as_str(), inp.member_number.as_str()),
            ("UC-inp", "88800933501")
        );
        assert_eq!(inp.provider.as_deref(), Some("Orange Medical Group"));
        // Kept as it says: a copay and a member liability of 0, both.
        assert_eq!(inp.total("copay"), Some(m("50.00")));
        assert_eq!(inp.total("memberliability"), Some(m("0.00")));
        let pro = &set.claims[2];
        assert_eq!(pro.lines.len(), 2);
        assert_eq!(pro.lines[0].adjudications.len(), 6);
        assert_eq!(pro.total("memberliability"), Some(m("100.00")), "the reversal nets out");
        assert_eq!(pro.total("submitted"), Some(m("200.00")));
        assert_eq!(pro.lines[0].code.as_deref(), Some("99213"));
        assert_eq!(pro.billable_from, NaiveDate::from_ymd_opt(2026, 10, 1));
    }

    #[test]
    fn references_inside_a_bundle_may_name_an_entry_by_its_full_url() {
        let mut e = eob(
            "e1",
            "professional",
            None,
            vec![line(1, "99213", vec![adj("memberliability", 20.0)])],
        );
        e["patient"] = serde_json::json!({"reference": "urn:uuid:6a1c7d52-patient"});
        e["provider"] = serde_json::json!({"reference": "urn:uuid:0f3b-org"});
        e["insurance"] = serde_json::json!([{"focal": true, "coverage": {"reference": "urn:uuid:c0ve-rage"}}]);
        let text = serde_json::json!({"resourceType": "Bundle", "type": "searchset", "entry": [
            {"fullUrl": "urn:uuid:6a1c7d52-patient", "resource": patient("p1", "88800933501")},
            {"fullUrl": "urn:uuid:0f3b-org", "resource": org("o1", "Orange Medical Group")},
            {"fullUrl": "urn:uuid:c0ve-rage", "resource": {"resourceType": "Coverage", "id": "cov1", "status": "active"}},
            {"fullUrl": "urn:uuid:e1", "resource": e},
        ]})
        .to_string();
        let mut r = Reader::new();
        r.add_file("bundle.json", &text).unwrap();
        let set = r.read().unwrap();
        assert_eq!(set.claims[0].member_number, "88800933501");
        assert_eq!(set.claims[0].provider.as_deref(), Some("Orange Medical Group"));
    }

    #[test]
    fn ndjson_files_of_one_export_make_one_set_and_totals_win_over_the_lines_sum() {
        let mut e = eob(
            "e1",
            "professional",
            None,
            vec![line(1, "99213", vec![adj("memberliability", 20.0)])],
        );
        e["total"] = serde_json::json!([{"category": {"coding": [{"code": "memberliability"}]}, "amount": {"value": 25.0, "currency": "USD"}}]);
        e["status"] = serde_json::json!("cancelled");
        e["related"] = serde_json::json!([{"claim": {"identifier": {"value": "UC-old"}}}]);
        e["benefitBalance"] = serde_json::json!([{"financial": [{"type": {"coding": [{"code": "deductible"}]}, "allowedMoney": {"value": 1500, "currency": "USD"}, "usedMoney": {"value": 400, "currency": "USD"}}]}]);
        let mut r = Reader::new();
        r.add_file("ExplanationOfBenefit.ndjson", &format!("{}\n\n", e))
            .unwrap();
        r.add_file("Patient.ndjson", &patient("p1", "M200000001").to_string())
            .unwrap();
        r.add_file("Organization.ndjson", &org("o1", "Summit Family Practice").to_string())
            .unwrap();
        let set = r.read().unwrap();
        let c = &set.claims[0];
        assert!(c.cancelled);
        assert_eq!(c.replaces, vec!["UC-old".to_string()]);
        assert_eq!(
            c.total("memberliability"),
            Some(m("25.00")),
            "the EOB's own total, not corrected"
        );
        assert_eq!(
            c.benefit_balance,
            vec![("deductible".to_string(), Some(m("1500.00")), Some(m("400.00")))]
        );
    }

    #[test]
    fn every_problem_names_the_file_the_resource_and_the_path_and_refuses_the_set() {
        let good = || vec![patient("p1", "88800933501"), org("o1", "Orange Medical Group")];
        let cases: Vec<(serde_json::Value, &str, &str)> = vec![
            (
                {
                    let mut e = eob(
                        "e1",
                        "professional",
                        None,
                        vec![line(1, "99213", vec![adj("submitted", 10.0)])],
                    );
                    e["item"][0]["adjudication"][0]["amount"]["currency"] = serde_json::json!("EUR");
                    e
                },
                "item[0].adjudication[0].amount.currency",
                "not USD",
            ),
            (
                {
                    let mut e = eob(
                        "e1",
                        "professional",
                        None,
                        vec![line(1, "99213", vec![adj("submitted", 10.125)])],
                    );
                    e["total"] = serde_json::json!([]);
                    e
                },
                "item[0].adjudication[0].amount.value",
                "more than two decimal places",
            ),
            (
                {
                    let mut e = eob("e1", "professional", None, vec![]);
                    e["patient"] = serde_json::json!({"reference": "Patient/nobody"});
                    e
                },
                "patient.reference",
                "is not in the import",
            ),
            (
                {
                    let mut e = eob("e1", "professional", None, vec![]);
                    e["provider"] = serde_json::json!({"reference": "Organization/unknown"});
                    e
                },
                "provider.reference",
                "is not in the import",
            ),
            (
                {
                    let mut e = eob("e1", "professional", None, vec![]);
                    e["insurance"] = serde_json::json!([{"focal": true, "coverage": {"reference": "Coverage/gone"}}]);
                    e
                },
                "insurance[0].coverage.reference",
                "is not in the import",
            ),
            (
                {
                    let mut e = eob("e1", "professional", None, vec![]);
                    e["careTeam"] =
                        serde_json::json!([{"sequence": 1, "provider": {"reference": "Practitioner/gone"}}]);
                    e
                },
                "careTeam[0].provider.reference",
                "is not in the import",
            ),
            (
                {
                    let mut e = eob("e1", "professional", None, vec![]);
                    e.as_object_mut().unwrap().remove("status");
                    e
                },
                "status",
                "no status",
            ),
            (
                {
                    let mut e = eob("e1", "professional", None, vec![]);
                    e["identifier"] = serde_json::json!([]);
                    e
                },
                "identifier",
                "no claim identifier",
            ),
        ];
        for (bad, path, why) in cases {
            let mut resources = good();
            resources.push(eob("e0", "professional", None, vec![]));
            resources.push(bad);
            let mut r = Reader::new();
            r.add_file("b.json", &bundle(resources)).unwrap();
            let e = r.read().unwrap_err();
            assert_eq!(
                (e.file.as_str(), e.resource.as_deref(), e.path.as_str()),
                ("b.json", Some("ExplanationOfBenefit/e1"), path),
                "{e}"
            );
            assert!(e.message.contains(why), "{e}");
        }
        let mut r = Reader::new();
        let e = r
            .add_file("x.ndjson", "{\"resourceType\": \"Patient\", \"id\": \"p\"}\n{not json")
            .unwrap_err();
        assert_eq!(e.path, "line 2");
        let e = Reader::new()
            .add_file("y.json", &bundle(vec![serde_json::json!({"resourceType": "Patient"})]))
            .unwrap_err();
        assert_eq!(e.path, "entry[0].resource.id");
    }
}
