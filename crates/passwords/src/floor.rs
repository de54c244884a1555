//! The least time a failed verification takes: the typical cost of the
//! slowest kind of hash this hasher knows of. A failure against a cheaper
//! hash, and the dummy verification of an unknown account, wait out the
//! difference, so a failure's time does not tell which scheme and cost an
//! account's hash is in, or whether the account exists.
//!
//! Costs are learned per [`CostClass`] from the verifications themselves,
//! matches included, as they run on the hashing threads. A class known only
//! by name (a hash checked by `check_stored`, or a default assumed at
//! start-up) is estimated in proportion to the work its parameters ask for
//! (PBKDF2 iterations, bcrypt's 2^cost rounds, argon2's memory times passes):
//! against the largest timed class of its scheme, or, for a scheme not timed
//! yet, against argon2's, converted by what one unit of each scheme's work
//! cost next to argon2's in a calibration at start-up. Argon2 is timed by
//! every unknown account's dummy verification, so those estimates follow the
//! host's load as the real verifications would.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Durations kept per class; older ones roll out, so the figure follows the host.
const SAMPLES: usize = 32;
/// The share of a class's recent durations its typical cost is above: high,
/// so a failure is rarely answered before a slow hash would have been, but
/// not the maximum, so one stall (a busy host, a page fault storm) does not
/// set every failure's time until it rolls out.
const TYPICAL_QUANTILE: f64 = 0.9;
/// Most classes remembered. They come from stored hashes, which the operator
/// controls, so this is a safety net: past it the cheapest class is forgotten.
const MAX_CLASSES: usize = 64;
/// The floor never exceeds this: a hash whose own cost is above it (allowed
/// up to the ceilings, some seconds) still answers in its own time, rather
/// than every failure being held that long.
pub(crate) const MAX_FLOOR: Duration = Duration::from_secs(1);

/// The costs the libraries users are imported from write by default: Django
/// 5.2's PBKDF2, passlib's PBKDF2, Python bcrypt's and passlib's bcrypt, and
/// argon2-cffi's argon2id.
pub(crate) const LEGACY_DEFAULTS: [CostClass; 4] = [
    CostClass::Pbkdf2Sha256 {
        iterations: 1_000_000,
    },
    CostClass::Pbkdf2Sha256 { iterations: 29_000 },
    CostClass::Bcrypt { cost: 12 },
    CostClass::Argon2 {
        m_cost: 65536,
        t_cost: 3,
        p_cost: 4,
    },
];

/// What a verification's cost depends on: the scheme and its cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CostClass {
    /// argon2 of any variant: memory in KiB, passes, lanes.
    Argon2 { m_cost: u32, t_cost: u32, p_cost: u32 },
    /// bcrypt at `cost`, 2^cost rounds.
    Bcrypt { cost: u32 },
    /// PBKDF2-HMAC-SHA256, as Django or passlib store it.
    Pbkdf2Sha256 { iterations: u32 },
}

/// Schemes whose costs scale with the same kind of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scheme {
    Argon2,
    Bcrypt,
    Pbkdf2Sha256,
}

impl CostClass {
    /// The class's scheme and the work its parameters ask for, in that
    /// scheme's units, to which its time is about proportional.
    fn work(self) -> (Scheme, f64) {
        match self {
            // The argon2 crate fills the lanes one after another, so `p` adds no time.
            Self::Argon2 { m_cost, t_cost, .. } => (Scheme::Argon2, f64::from(m_cost) * f64::from(t_cost)),
            Self::Bcrypt { cost } => (Scheme::Bcrypt, f64::from(cost).exp2()),
            Self::Pbkdf2Sha256 { iterations } => (Scheme::Pbkdf2Sha256, f64::from(iterations)),
        }
    }
}

/// The recent durations of one class.
#[derive(Debug, Default)]
struct Costs {
    recent: VecDeque<Duration>,
    /// The [`TYPICAL_QUANTILE`] of `recent`; `None` until one is recorded.
    typical: Option<Duration>,
}

impl Costs {
    fn record(&mut self, took: Duration) {
        if self.recent.len() == SAMPLES {
            self.recent.pop_front();
        }
        self.recent.push_back(took);
        let mut sorted: Vec<Duration> = self.recent.iter().copied().collect();
        sorted.sort_unstable();
        // Nearest rank: the smallest duration at or above the quantile.
        let rank = (sorted.len() as f64 * TYPICAL_QUANTILE).ceil() as usize;
        self.typical = sorted.get(rank.saturating_sub(1)).copied();
    }
}

/// The costs of every class seen, and the floor they set.
#[derive(Debug, Default)]
pub(crate) struct FailureFloor {
    classes: Mutex<HashMap<CostClass, Costs>>,
    /// Seconds per unit of work of each scheme, timed side by side at start-up.
    unit_costs: HashMap<Scheme, f64>,
}

impl FailureFloor {
    /// Takes `took`, the time of one hash of `class` at start-up, as its
    /// scheme's cost per unit of work, for estimating across schemes.
    pub(crate) fn calibrate(&mut self, class: CostClass, took: Duration) {
        let (scheme, work) = class.work();
        if work > 0.0 {
            self.unit_costs.insert(scheme, took.as_secs_f64() / work);
        }
    }

    /// Records that a verification of `class` took `took`, whatever its outcome.
    pub(crate) fn record(&self, class: CostClass, took: Duration) {
        let mut classes = self.classes.lock().unwrap_or_else(PoisonError::into_inner);
        self.make_room(&mut classes, class);
        classes.entry(class).or_default().record(took);
    }

    /// Makes `class` known without timing it: it counts at its estimated cost.
    pub(crate) fn expect(&self, class: CostClass) {
        let mut classes = self.classes.lock().unwrap_or_else(PoisonError::into_inner);
        self.make_room(&mut classes, class);
        classes.entry(class).or_default();
    }

    /// The least time a failed verification takes, at most [`MAX_FLOOR`].
    pub(crate) fn floor(&self) -> Duration {
        let classes = self.classes.lock().unwrap_or_else(PoisonError::into_inner);
        self.costs(&classes)
            .map(|(_, cost)| cost)
            .max()
            .unwrap_or_default()
            .min(MAX_FLOOR)
    }

    /// How long a failure whose work took `took` must still wait.
    pub(crate) fn padding(&self, took: Duration) -> Duration {
        self.floor().saturating_sub(took)
    }

    /// Whether `class` is known, timed or not.
    #[cfg(test)]
    pub(crate) fn knows(&self, class: CostClass) -> bool {
        self.classes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&class)
    }

    /// Every class's typical cost if it has been timed, else its estimate;
    /// a class that cannot be estimated yet costs nothing.
    fn costs<'a>(
        &'a self,
        classes: &'a HashMap<CostClass, Costs>,
    ) -> impl Iterator<Item = (CostClass, Duration)> + 'a {
        classes.iter().map(|(class, costs)| {
            let cost = costs
                .typical
                .or_else(|| self.estimate(classes, *class))
                .unwrap_or_default();
            (*class, cost)
        })
    }

    /// `class`'s cost in proportion to its work: against the timed class of
    /// its scheme with the most work (the least skewed by fixed costs), else
    /// against argon2's, converted by the start-up unit costs.
    fn estimate(&self, classes: &HashMap<CostClass, Costs>, class: CostClass) -> Option<Duration> {
        let reference = |scheme: Scheme| {
            classes
                .iter()
                .filter_map(|(timed, costs)| Some((timed.work(), costs.typical?)))
                .filter(|((timed, work), _)| *timed == scheme && *work > 0.0)
                .max_by(|((_, a), _), ((_, b), _)| a.total_cmp(b))
                .map(|((_, work), typical)| (work, typical))
        };
        let (scheme, work) = class.work();
        let seconds = match reference(scheme) {
            Some((reference_work, typical)) => typical.as_secs_f64() * work / reference_work,
            None => {
                let (argon2_work, typical) = reference(Scheme::Argon2)?;
                let relative = self.unit_costs.get(&scheme)? / self.unit_costs.get(&Scheme::Argon2)?;
                typical.as_secs_f64() * work * relative / argon2_work
            }
        };
        // Out of range only for absurd inputs; then as slow as can be, which the cap bounds.
        Some(Duration::try_from_secs_f64(seconds).unwrap_or(MAX_FLOOR))
    }

    /// Forgets the cheapest class if `class` is new and the table is full.
    fn make_room(&self, classes: &mut HashMap<CostClass, Costs>, class: CostClass) {
        if classes.len() < MAX_CLASSES || classes.contains_key(&class) {
            return;
        }
        let cheapest = self
            .costs(classes)
            .min_by_key(|(_, cost)| *cost)
            .map(|(class, _)| class);
        if let Some(cheapest) = cheapest {
            classes.remove(&cheapest);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ARGON2_CURRENT: CostClass = CostClass::Argon2 {
        m_cost: 19456,
        t_cost: 2,
        p_cost: 1,
    };
    const DJANGO_DEFAULT: CostClass = CostClass::Pbkdf2Sha256 {
        iterations: 1_000_000,
    };

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    /// Estimates are computed in floating point: equal to the microsecond.
    fn assert_about(actual: Duration, expected: Duration) {
        let error = actual.abs_diff(expected);
        assert!(
            error < Duration::from_micros(1),
            "{actual:?}, expected {expected:?}"
        );
    }

    fn record_many(floor: &FailureFloor, class: CostClass, millis: &[u64]) {
        for &m in millis {
            floor.record(class, ms(m));
        }
    }

    #[test]
    fn nothing_known_means_no_floor() {
        let floor = FailureFloor::default();
        assert_eq!(floor.floor(), Duration::ZERO);
        assert_eq!(floor.padding(ms(40)), Duration::ZERO);
    }

    #[test]
    fn the_floor_is_the_slowest_class() {
        let floor = FailureFloor::default();
        record_many(&floor, ARGON2_CURRENT, &[45, 46, 47]);
        assert_eq!(floor.floor(), ms(47));
        record_many(&floor, DJANGO_DEFAULT, &[226, 228, 230]);
        assert_eq!(floor.floor(), ms(230));
        // A wrong password on the argon2 account, and the dummy, wait out the rest;
        // one on the slow account, or a slower run, does not wait.
        assert_eq!(floor.padding(ms(46)), ms(184));
        assert_eq!(floor.padding(ms(229)), ms(1));
        assert_eq!(floor.padding(ms(300)), Duration::ZERO);
    }

    #[test]
    fn a_stall_does_not_set_the_floor() {
        let floor = FailureFloor::default();
        record_many(&floor, DJANGO_DEFAULT, &[228; 31]);
        floor.record(DJANGO_DEFAULT, ms(900));
        assert_eq!(floor.floor(), ms(228));
    }

    #[test]
    fn old_durations_roll_out() {
        let floor = FailureFloor::default();
        record_many(&floor, DJANGO_DEFAULT, &[400; SAMPLES]);
        assert_eq!(floor.floor(), ms(400));
        record_many(&floor, DJANGO_DEFAULT, &[228; SAMPLES]);
        assert_eq!(floor.floor(), ms(228));
    }

    #[test]
    fn a_class_known_by_name_is_estimated_from_its_scheme() {
        let floor = FailureFloor::default();
        floor.record(CostClass::Pbkdf2Sha256 { iterations: 10_000 }, ms(2));
        floor.expect(DJANGO_DEFAULT);
        assert_about(floor.floor(), ms(200));
        floor.record(CostClass::Bcrypt { cost: 6 }, ms(4));
        floor.expect(CostClass::Bcrypt { cost: 12 });
        assert_about(floor.floor(), ms(256));
        floor.expect(CostClass::Argon2 {
            m_cost: 65536,
            t_cost: 3,
            p_cost: 4,
        });
        floor.record(
            CostClass::Argon2 {
                m_cost: 16384,
                t_cost: 3,
                p_cost: 1,
            },
            ms(70),
        );
        assert_about(floor.floor(), ms(280));
    }

    #[test]
    fn the_largest_timed_class_of_a_scheme_is_the_reference() {
        let floor = FailureFloor::default();
        // The small one is skewed by fixed costs: 10 us an iteration, not 0.2.
        floor.record(CostClass::Pbkdf2Sha256 { iterations: 1_000 }, ms(10));
        floor.record(CostClass::Pbkdf2Sha256 { iterations: 100_000 }, ms(20));
        floor.expect(DJANGO_DEFAULT);
        assert_about(floor.floor(), ms(200));
    }

    #[test]
    fn a_timed_class_counts_at_its_own_cost_not_the_estimate() {
        let floor = FailureFloor::default();
        floor.record(CostClass::Pbkdf2Sha256 { iterations: 10_000 }, ms(2));
        floor.expect(DJANGO_DEFAULT);
        floor.record(DJANGO_DEFAULT, ms(228));
        assert_eq!(floor.floor(), ms(228));
    }

    #[test]
    fn a_scheme_never_timed_is_estimated_from_argon2_by_the_start_up_unit_costs() {
        let mut floor = FailureFloor::default();
        // At start-up 10,000 PBKDF2 iterations cost 1/20 of an argon2 hash...
        floor.calibrate(ARGON2_CURRENT, ms(40));
        floor.calibrate(CostClass::Pbkdf2Sha256 { iterations: 10_000 }, ms(2));
        // ...and argon2 now takes 46 ms: 1,000,000 iterations are reckoned at 100 * 46 / 20.
        floor.record(ARGON2_CURRENT, ms(46));
        floor.expect(DJANGO_DEFAULT);
        assert_about(floor.floor(), ms(230));
    }

    #[test]
    fn a_scheme_never_timed_nor_calibrated_adds_nothing_yet() {
        let floor = FailureFloor::default();
        floor.record(ARGON2_CURRENT, ms(46));
        floor.expect(CostClass::Bcrypt { cost: 12 });
        assert_eq!(floor.floor(), ms(46));
    }

    #[test]
    fn the_floor_is_capped() {
        let floor = FailureFloor::default();
        floor.record(
            CostClass::Pbkdf2Sha256 {
                iterations: 10_000_000,
            },
            ms(2300),
        );
        assert_eq!(floor.floor(), MAX_FLOOR);
    }

    #[test]
    fn classes_are_bounded_and_the_cheapest_go_first() {
        let floor = FailureFloor::default();
        floor.record(DJANGO_DEFAULT, ms(228));
        for iterations in 1..=2 * MAX_CLASSES as u32 {
            floor.record(CostClass::Pbkdf2Sha256 { iterations }, ms(1));
        }
        assert_eq!(floor.classes.lock().unwrap().len(), MAX_CLASSES);
        assert!(floor.knows(DJANGO_DEFAULT));
        assert_eq!(floor.floor(), ms(228));
    }
}
