//! A seeded synthetic cohort of hip and knee replacement patients: the bundled data for the
//! demo and the tests, because real patient data can never ship.
//!
//! Each patient is drawn from its own random stream (SplitMix64 keyed by the seed and the row
//! index), so a cohort of n rows is the first n rows of any larger cohort with the same seed.
//! The generator uses only IEEE-754 basic operations (`+ - * / sqrt`, rounding) and the
//! portable `exp`/`ln` of [`crate::math`], never the platform's libm, and formats with Rust's
//! own float formatting: the same rows and seed give a byte-identical CSV on every machine.
//!
//! The outcomes are drawn from non-linear risk models with thresholds and interactions (BMI
//! above 35, diabetes with HbA1c above 64 mmol/mol, steroids with rheumatoid arthritis,
//! albumin below 35 g/L, age beyond 80, fracture in the elderly, a U-shaped age effect on
//! revision) and a mild drift over surgery years, so that trees have something to find that a
//! linear model cannot, and a temporal split is meaningful. The effect sizes are plausible in
//! direction and rough magnitude; they are not estimates from any registry and the data must
//! never be used to draw clinical conclusions.

use std::io::{self, Write};

use crate::math::{exp, ln, sigmoid};
use crate::rng::{self, SplitMix64};

/// The schema of the generated CSV (also shipped as `examples/arthroplasty/cohort.schema.toml`).
pub fn schema_toml() -> &'static str {
    include_str!("../../examples/arthroplasty/cohort.schema.toml")
}

/// The outcome columns, in CSV and [`Patient::risk`] order.
pub const OUTCOMES: [&str; 3] = ["infection_1y", "revision_2y", "death_2y"];

/// A generated cohort.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthCohort {
    /// The seed it was generated from.
    pub seed: u64,
    /// One entry per row, `patient_id` 1, 2, ...
    pub patients: Vec<Patient>,
}

/// Sex recorded at surgery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// `female` (level 0)
    Female,
    /// `male` (level 1)
    Male,
}

/// The replaced joint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Procedure {
    /// `hip` (level 0)
    Hip,
    /// `knee` (level 1)
    Knee,
}

/// The indication for surgery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnosis {
    /// `osteoarthritis` (level 0)
    Osteoarthritis,
    /// `rheumatoid_arthritis` (level 1)
    RheumatoidArthritis,
    /// `fracture` (level 2)
    Fracture,
    /// `avascular_necrosis` (level 3)
    AvascularNecrosis,
    /// `other` (level 4)
    Other,
}

/// Smoking status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smoking {
    /// `never` (level 0)
    Never,
    /// `former` (level 1)
    Former,
    /// `current` (level 2)
    Current,
}

impl Sex {
    fn label(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
        }
    }
}

impl Procedure {
    fn label(self) -> &'static str {
        match self {
            Procedure::Hip => "hip",
            Procedure::Knee => "knee",
        }
    }
}

impl Diagnosis {
    fn label(self) -> &'static str {
        match self {
            Diagnosis::Osteoarthritis => "osteoarthritis",
            Diagnosis::RheumatoidArthritis => "rheumatoid_arthritis",
            Diagnosis::Fracture => "fracture",
            Diagnosis::AvascularNecrosis => "avascular_necrosis",
            Diagnosis::Other => "other",
        }
    }
}

impl Smoking {
    fn label(self) -> &'static str {
        match self {
            Smoking::Never => "never",
            Smoking::Former => "former",
            Smoking::Current => "current",
        }
    }
}

/// One patient as written to the CSV. Decimal values are stored already rounded to the digits
/// the CSV shows; `None` is a missing (empty) cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    /// 1-based row number.
    pub patient_id: u32,
    /// Year of surgery, 2008-2018.
    pub surgery_year: u16,
    /// Age at surgery, years.
    pub age: u8,
    /// Sex.
    pub sex: Sex,
    /// Body-mass index, kg/m², one decimal.
    pub bmi: f32,
    /// ASA physical status, 1-4.
    pub asa_class: u8,
    /// Replaced joint.
    pub procedure: Procedure,
    /// Indication.
    pub diagnosis: Diagnosis,
    /// Diabetes mellitus.
    pub diabetes: bool,
    /// HbA1c, mmol/mol.
    pub hba1c: Option<u16>,
    /// Smoking status.
    pub smoking: Smoking,
    /// Rheumatoid arthritis (the indication or a comorbidity).
    pub rheumatoid_arthritis: bool,
    /// Charlson comorbidity index (without age points), 0-10.
    pub charlson_index: u8,
    /// Haemoglobin, g/L.
    pub haemoglobin: Option<u16>,
    /// Serum creatinine, µmol/L.
    pub creatinine: Option<u16>,
    /// eGFR (CKD-EPI 2021 from creatinine, age and sex), mL/min/1.73m²; missing with
    /// creatinine.
    pub egfr: Option<u16>,
    /// Serum albumin, g/L.
    pub albumin: Option<u16>,
    /// C-reactive protein, mg/L, one decimal.
    pub crp: Option<f32>,
    /// Oral anticoagulant therapy.
    pub anticoagulants: bool,
    /// Systemic corticosteroids.
    pub steroids: bool,
    /// Previous surgery on the same joint.
    pub prior_joint_surgery: bool,
    /// Deep infection within 1 year.
    pub infection_1y: bool,
    /// Revision within 2 years.
    pub revision_2y: bool,
    /// Death within 2 years.
    pub death_2y: bool,
    /// The generator's probability of each outcome (in [`OUTCOMES`] order) for this patient:
    /// what a perfect model would predict. Not written to the CSV.
    pub risk: [f64; 3],
}

impl SynthCohort {
    /// The fraction of patients with each outcome, in [`OUTCOMES`] order.
    pub fn event_rates(&self) -> [f64; 3] {
        let n = self.patients.len().max(1) as f64;
        let count = |outcome: fn(&Patient) -> bool| {
            self.patients.iter().filter(|p| outcome(p)).count() as f64 / n
        };
        [
            count(|p| p.infection_1y),
            count(|p| p.revision_2y),
            count(|p| p.death_2y),
        ]
    }
}

/// Generates `rows` patients from `seed`.
pub fn arthroplasty(rows: usize, seed: u64) -> SynthCohort {
    SynthCohort {
        seed,
        patients: (0..rows).map(|index| patient(seed, index as u64)).collect(),
    }
}

/// The CSV header, in column order.
pub const CSV_HEADER: &str = "patient_id,surgery_year,age,sex,bmi,asa_class,procedure,\
diagnosis,diabetes,hba1c,smoking,rheumatoid_arthritis,charlson_index,haemoglobin,creatinine,\
egfr,albumin,crp,anticoagulants,steroids,prior_joint_surgery,infection_1y,revision_2y,death_2y";

/// Writes the cohort as CSV: a header, then one line per patient (`\n` line ends, booleans
/// 0/1, missing values as empty cells).
pub fn write_csv(cohort: &SynthCohort, writer: impl Write) -> io::Result<()> {
    let mut writer = io::BufWriter::new(writer);
    writeln!(writer, "{CSV_HEADER}")?;
    let mut line = String::with_capacity(160);
    for p in &cohort.patients {
        line.clear();
        format_row(p, &mut line);
        writer.write_all(line.as_bytes())?;
    }
    writer.flush()
}

fn format_row(p: &Patient, line: &mut String) {
    use std::fmt::Write as _;
    let flag = |value: bool| if value { "1" } else { "0" };
    let int = |value: Option<u16>| value.map(|v| v.to_string()).unwrap_or_default();
    // `{:.1}` of an f32 holding round(10 x) / 10 prints the decimal it was rounded from.
    let tenths = |value: Option<f32>| value.map(|v| format!("{v:.1}")).unwrap_or_default();
    // Writing to a String cannot fail.
    let _ = writeln!(
        line,
        "{},{},{},{},{:.1},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        p.patient_id,
        p.surgery_year,
        p.age,
        p.sex.label(),
        p.bmi,
        p.asa_class,
        p.procedure.label(),
        p.diagnosis.label(),
        flag(p.diabetes),
        int(p.hba1c),
        p.smoking.label(),
        flag(p.rheumatoid_arthritis),
        p.charlson_index,
        int(p.haemoglobin),
        int(p.creatinine),
        int(p.egfr),
        int(p.albumin),
        tenths(p.crp),
        flag(p.anticoagulants),
        flag(p.steroids),
        flag(p.prior_joint_surgery),
        flag(p.infection_1y),
        flag(p.revision_2y),
        flag(p.death_2y),
    );
}

/// The first and last surgery years.
const FIRST_YEAR: u16 = 2008;
const LAST_YEAR: u16 = 2018;

/// Draws one patient. The order of the draws is part of the output: changing it changes every
/// cohort (and the bundled CSV, which a test pins).
fn patient(seed: u64, index: u64) -> Patient {
    let mut rng = Rng::for_row(seed, index);

    // Surgery volume grows by about 4% of the first year's per year.
    let weights: Vec<f64> = (FIRST_YEAR..=LAST_YEAR)
        .map(|year| 1.0 + 0.04 * f64::from(year - FIRST_YEAR))
        .collect();
    let surgery_year = FIRST_YEAR + rng.choose(&weights) as u16;
    let years_since_first = f64::from(surgery_year - FIRST_YEAR);

    let procedure = if rng.bernoulli(0.56) {
        Procedure::Knee
    } else {
        Procedure::Hip
    };
    use Diagnosis::*;
    const DIAGNOSES: [Diagnosis; 5] = [
        Osteoarthritis,
        RheumatoidArthritis,
        Fracture,
        AvascularNecrosis,
        Other,
    ];
    let diagnosis_weights: [f64; 5] = match procedure {
        Procedure::Hip => [0.80, 0.03, 0.07, 0.05, 0.05],
        Procedure::Knee => [0.92, 0.04, 0.01, 0.01, 0.02],
    };
    let diagnosis = DIAGNOSES[rng.choose(&diagnosis_weights)];
    let p_female = match (diagnosis, procedure) {
        (Fracture, _) => 0.70,
        (RheumatoidArthritis, _) => 0.75,
        (_, Procedure::Knee) => 0.62,
        (_, Procedure::Hip) => 0.57,
    };
    let sex = if rng.bernoulli(p_female) {
        Sex::Female
    } else {
        Sex::Male
    };
    let male = sex == Sex::Male;

    // Age: a two-piece normal with a longer tail towards the young (left skew).
    let (age_centre, age_sd) = match diagnosis {
        Osteoarthritis => (70.0, 9.0),
        RheumatoidArthritis => (63.0, 11.0),
        Fracture => (80.0, 7.5),
        AvascularNecrosis => (55.0, 12.0),
        Other => (62.0, 13.0),
    };
    let age_years = rng.truncated(18.0, 100.0, |rng| {
        let z = rng.normal();
        age_centre + age_sd * if z < 0.0 { 1.15 * z } else { 0.8 * z }
    });
    let age_years = age_years.round();
    let age = age_years as u8;

    // BMI: log-normal (right skew); knee patients heavier, the elderly and fracture patients
    // lighter.
    let mut bmi_median = match procedure {
        Procedure::Hip => 27.6,
        Procedure::Knee => 30.2,
    };
    if !male && procedure == Procedure::Knee {
        bmi_median += 0.6;
    }
    bmi_median -= 0.07 * (age_years - 68.0);
    bmi_median += match diagnosis {
        Fracture => -2.5,
        RheumatoidArthritis => -1.0,
        _ => 0.0,
    };
    let bmi = rng.truncated(15.0, 60.0, |rng| bmi_median * exp(0.16 * rng.normal()));
    let bmi = quantize_tenths(bmi);
    let bmi_value = f64::from(bmi);

    let diabetes = rng.bernoulli(sigmoid(
        -1.9 + 0.11 * (bmi_value - 29.0) + 0.025 * (age_years - 68.0),
    ));
    let hba1c_true = if diabetes {
        rng.truncated(32.0, 140.0, |rng| 54.0 * exp(0.2 * rng.normal()))
    } else {
        rng.truncated(26.0, 47.0, |rng| 37.0 + 3.5 * rng.normal())
    }
    .round();

    let p_current_smoker = sigmoid(-1.8 - 0.05 * (age_years - 68.0) + if male { 0.3 } else { 0.0 });
    let p_former_smoker = if male { 0.38 } else { 0.26 };
    let smoking = match rng.choose(&[
        (1.0 - p_current_smoker) * (1.0 - p_former_smoker),
        (1.0 - p_current_smoker) * p_former_smoker,
        p_current_smoker,
    ]) {
        0 => Smoking::Never,
        1 => Smoking::Former,
        _ => Smoking::Current,
    };

    let rheumatoid_arthritis = diagnosis == RheumatoidArthritis || rng.bernoulli(0.015);
    let steroids = rng.bernoulli(if rheumatoid_arthritis { 0.35 } else { 0.035 });

    // Charlson: other comorbidities (Poisson, rising with age) plus diabetes (2 points when
    // poorly controlled) and rheumatic disease.
    let other_comorbidity = rng.poisson(0.55 * exp(0.035 * (age_years - 68.0)));
    let diabetes_points = match (diabetes, hba1c_true > 75.0) {
        (false, _) => 0,
        (true, false) => 1,
        (true, true) => 2,
    };
    let charlson = (other_comorbidity + diabetes_points + u32::from(rheumatoid_arthritis)).min(10);
    let charlson_value = f64::from(charlson);

    let anticoagulants = rng.bernoulli(sigmoid(
        -2.6 + 0.06 * (age_years - 68.0) + 0.3 * f64::from(other_comorbidity),
    ));
    let prior_joint_surgery = rng.bernoulli(match diagnosis {
        Other => 0.30,
        AvascularNecrosis => 0.15,
        Fracture => 0.04,
        _ => 0.09,
    });

    let asa_latent = 0.045 * (age_years - 68.0)
        + 0.07 * (bmi_value - 29.0)
        + 0.45 * charlson_value
        + if diabetes { 0.4 } else { 0.0 }
        + if anticoagulants { 0.3 } else { 0.0 }
        + 0.9 * rng.normal();
    let asa_class: u8 = if asa_latent < -1.1 {
        1
    } else if asa_latent < 0.85 {
        2
    } else if asa_latent < 2.7 {
        3
    } else {
        4
    };

    let haemoglobin_mean = if male { 145.0 } else { 132.0 }
        - 0.2 * (age_years - 68.0)
        - 2.5 * f64::from(other_comorbidity)
        - if rheumatoid_arthritis { 6.0 } else { 0.0 }
        - if diagnosis == Fracture { 12.0 } else { 0.0 };
    let haemoglobin = rng
        .truncated(70.0, 190.0, |rng| haemoglobin_mean + 12.0 * rng.normal())
        .round();

    let creatinine_median = if male { 86.0 } else { 68.0 }
        * exp(0.012 * (age_years - 68.0)
            + if diabetes { 0.08 } else { 0.0 }
            + 0.06 * f64::from(other_comorbidity));
    let creatinine = rng
        .truncated(30.0, 600.0, |rng| {
            creatinine_median * exp(0.27 * rng.normal())
        })
        .round();
    let egfr = ckd_epi_2021(creatinine, age_years, male)
        .round()
        .clamp(3.0, 150.0);

    let albumin_mean = 41.0
        - 0.08 * (age_years - 68.0)
        - 0.7 * f64::from(other_comorbidity)
        - if diagnosis == Fracture { 3.0 } else { 0.0 }
        - if rheumatoid_arthritis { 2.0 } else { 0.0 };
    let albumin = rng
        .truncated(18.0, 55.0, |rng| albumin_mean + 3.5 * rng.normal())
        .round();

    let crp_median = 2.5
        * if rheumatoid_arthritis { 3.0 } else { 1.0 }
        * if diagnosis == Fracture { 5.0 } else { 1.0 }
        * if bmi_value > 35.0 { 1.8 } else { 1.0 };
    let crp = quantize_tenths(rng.truncated(0.1, 300.0, |rng| crp_median * exp(rng.normal())));

    // Outcomes, from the true (unmasked) values. Coefficients are log-odds.
    let fracture = diagnosis == Fracture;
    let mut infection = -5.07 - 0.06 * years_since_first;
    infection += if bmi_value > 40.0 {
        1.7
    } else if bmi_value > 35.0 {
        1.25
    } else if bmi_value > 30.0 {
        0.2
    } else {
        0.0
    };
    infection += match (diabetes, hba1c_true > 64.0) {
        (true, true) => 1.3,
        (true, false) => 0.2,
        _ => 0.0,
    };
    infection += match (steroids, rheumatoid_arthritis) {
        (true, true) => 1.2,
        (true, false) | (false, true) => 0.3,
        _ => 0.0,
    };
    infection += if albumin < 35.0 { 0.9 } else { 0.0 };
    infection += if male { 0.35 } else { 0.0 };
    infection += if smoking == Smoking::Current {
        0.45
    } else {
        0.0
    };
    infection += if asa_class >= 3 { 0.35 } else { 0.0 };
    infection += if fracture { 0.5 } else { 0.0 };
    infection += if prior_joint_surgery { 0.55 } else { 0.0 };
    infection += if anticoagulants { 0.2 } else { 0.0 };
    infection += if procedure == Procedure::Knee {
        0.1
    } else {
        0.0
    };
    let p_infection = sigmoid(infection);
    let infection_1y = rng.bernoulli(p_infection);

    // Revision: U-shaped in age (young active knees, elderly hips dislocating), infection,
    // previous surgery on the joint.
    let mut revision = -3.9 - 0.02 * years_since_first;
    revision += match procedure {
        Procedure::Knee => 0.065 * (62.0 - age_years).max(0.0),
        Procedure::Hip => 0.035 * (62.0 - age_years).max(0.0) + 0.09 * (age_years - 78.0).max(0.0),
    };
    revision += if prior_joint_surgery { 0.85 } else { 0.0 };
    revision += if bmi_value > 40.0 { 0.45 } else { 0.0 };
    revision += match diagnosis {
        AvascularNecrosis => 0.4,
        Fracture if procedure == Procedure::Hip => 0.5,
        RheumatoidArthritis => 0.2,
        _ => 0.0,
    };
    revision += if male { 0.15 } else { 0.0 };
    revision += if smoking == Smoking::Current {
        0.3
    } else {
        0.0
    };
    let p_revision_without_infection = sigmoid(revision);
    let p_revision_with_infection = sigmoid(revision + 2.3);
    let p_revision = p_infection * p_revision_with_infection
        + (1.0 - p_infection) * p_revision_without_infection;
    let revision_2y = rng.bernoulli(if infection_1y {
        p_revision_with_infection
    } else {
        p_revision_without_infection
    });

    // Death: age (steeper beyond 80), ASA 4, comorbidity, anaemia, kidney function, and
    // fractures in the elderly.
    let mut death = -5.05 - 0.015 * years_since_first;
    death += 0.04 * (age_years - 68.0) + 0.08 * (age_years - 80.0).max(0.0);
    death += match asa_class {
        4 => 1.5,
        3 => 0.55,
        _ => 0.0,
    };
    death += 0.22 * charlson_value;
    death += if haemoglobin < 100.0 {
        1.4
    } else if haemoglobin < 110.0 {
        0.9
    } else {
        0.0
    };
    death += if egfr < 30.0 {
        1.0
    } else if egfr < 45.0 {
        0.5
    } else {
        0.0
    };
    death += match (fracture, age_years > 80.0) {
        (true, true) => 1.5,
        (true, false) => 0.8,
        _ => 0.0,
    };
    death += if albumin < 35.0 { 0.6 } else { 0.0 };
    death += if male { 0.35 } else { 0.0 };
    // Frailty: underweight patients, and the very old with poor nutrition or failing
    // kidneys, die far more often than either factor alone predicts.
    death += if bmi_value < 20.0 { 0.9 } else { 0.0 };
    death += if age_years > 80.0 && (albumin < 35.0 || egfr < 45.0) {
        0.9
    } else {
        0.0
    };
    let p_death_without_infection = sigmoid(death);
    let p_death_with_infection = sigmoid(death + 0.8);
    let p_death =
        p_infection * p_death_with_infection + (1.0 - p_infection) * p_death_without_infection;
    let death_2y = rng.bernoulli(if infection_1y {
        p_death_with_infection
    } else {
        p_death_without_infection
    });

    // Laboratory values go missing more often in the early years (1.5% in 2018, 8.5% in 2008),
    // independently of the outcome.
    let p_missing = 0.015 + 0.007 * f64::from(LAST_YEAR - surgery_year);
    let mut observed = |value: f64| (!rng.bernoulli(p_missing)).then_some(value);
    let hba1c = observed(hba1c_true).map(|v| v as u16);
    let haemoglobin = observed(haemoglobin).map(|v| v as u16);
    let renal = observed(creatinine);
    let albumin = observed(albumin).map(|v| v as u16);
    let crp = observed(f64::from(crp)).map(|v| v as f32);

    Patient {
        patient_id: index as u32 + 1,
        surgery_year,
        age,
        sex,
        bmi,
        asa_class,
        procedure,
        diagnosis,
        diabetes,
        hba1c,
        smoking,
        rheumatoid_arthritis,
        charlson_index: charlson as u8,
        haemoglobin,
        creatinine: renal.map(|v| v as u16),
        egfr: renal.map(|_| egfr as u16),
        albumin,
        crp,
        anticoagulants,
        steroids,
        prior_joint_surgery,
        infection_1y,
        revision_2y,
        death_2y,
        risk: [p_infection, p_revision, p_death],
    }
}

/// eGFR by the race-free CKD-EPI 2021 creatinine equation, creatinine in µmol/L.
fn ckd_epi_2021(creatinine_umol: f64, age_years: f64, male: bool) -> f64 {
    let creatinine_mg_dl = creatinine_umol / 88.4;
    let (kappa, alpha, sex_factor) = if male {
        (0.9, -0.302, 1.0)
    } else {
        (0.7, -0.241, 1.012)
    };
    let ratio = creatinine_mg_dl / kappa;
    142.0
        * pow(ratio.min(1.0), alpha)
        * pow(ratio.max(1.0), -1.200)
        * pow(0.9938, age_years)
        * sex_factor
}

/// Rounds to one decimal and returns the f32 nearest that decimal (what parsing the written
/// text gives back: the division of two exact integers is correctly rounded).
fn quantize_tenths(value: f64) -> f32 {
    (value * 10.0).round() as f32 / 10.0
}

/// `base^exponent` for a positive base.
fn pow(base: f64, exponent: f64) -> f64 {
    exp(exponent * ln(base))
}

/// The generator of one row: SplitMix64 with its own distributions on top.
struct Rng(SplitMix64);

impl Rng {
    /// The stream of row `index` of the cohort with `seed`: independent of the other rows.
    fn for_row(seed: u64, index: u64) -> Rng {
        Rng(SplitMix64(rng::finalize(
            seed ^ rng::finalize(index.wrapping_add(1).wrapping_mul(rng::GAMMA)),
        )))
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn uniform(&mut self) -> f64 {
        rng::unit_f64(self.0.next_u64())
    }

    fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Standard normal (Marsaglia's polar method).
    fn normal(&mut self) -> f64 {
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * ln(s) / s).sqrt();
            }
        }
    }

    /// An index drawn with probability proportional to `weights`.
    fn choose(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut target = self.uniform() * total;
        for (index, weight) in weights.iter().enumerate() {
            if target < *weight {
                return index;
            }
            target -= weight;
        }
        weights.len() - 1
    }

    /// Poisson by Knuth's multiplication method (small means only).
    fn poisson(&mut self, mean: f64) -> u32 {
        let limit = exp(-mean);
        let mut product = self.uniform();
        let mut count = 0;
        while product > limit && count < 50 {
            product *= self.uniform();
            count += 1;
        }
        count
    }

    /// A draw from `sample` conditioned on [low, high] (rejection; clamped after 100 tries,
    /// which only an implausible distribution would reach).
    fn truncated(&mut self, low: f64, high: f64, mut sample: impl FnMut(&mut Rng) -> f64) -> f64 {
        for _ in 0..100 {
            let value = sample(self);
            if (low..=high).contains(&value) {
                return value;
            }
        }
        sample(self).clamp(low, high)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ckd_epi_gives_textbook_values() {
        // A 60-year-old woman with creatinine 0.7 mg/dL (61.88 µmol/L): 142 * 0.9938^60 * 1.012.
        let egfr = ckd_epi_2021(61.88, 60.0, false);
        assert!(
            (egfr - 142.0 * 0.9938f64.powf(60.0) * 1.012).abs() < 1e-9,
            "{egfr}"
        );
        // Higher creatinine, lower eGFR.
        assert!(ckd_epi_2021(200.0, 70.0, true) < 35.0);
    }

    #[test]
    fn rows_do_not_depend_on_the_cohort_size() {
        let small = arthroplasty(50, 7);
        let large = arthroplasty(200, 7);
        assert_eq!(small.patients[..], large.patients[..50]);
    }

    #[test]
    fn quantized_tenths_print_as_their_decimal() {
        for tenths in 0..5000 {
            let value = quantize_tenths(f64::from(tenths) / 10.0);
            let text = format!("{value:.1}");
            assert_eq!(
                text.parse::<f32>().unwrap().to_bits(),
                value.to_bits(),
                "{text}"
            );
            assert_eq!(text, format!("{}.{}", tenths / 10, tenths % 10));
        }
    }
}
