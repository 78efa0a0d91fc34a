//! An L2-regularised logistic regression fitted by Newton's method (IRLS), and how its
//! coefficients become a pack's points.
//!
//! Why not a crate: linfa-logistic minimises with argmin's L-BFGS and gives no Hessian, so
//! no standard errors; the intervals `fit` reports come straight from the inverse Hessian
//! that Newton's method already builds. With tens of features the whole fit is a few
//! `p × p` Cholesky solves, tested below against the closed form of a 2×2 table.

use std::fmt;

/// Sparse feature rows for the regression: each row lists `(feature, value)` pairs.
#[derive(Clone, Debug, Default)]
pub struct Design {
    features: usize,
    starts: Vec<usize>,
    entries: Vec<(u32, f64)>,
    labels: Vec<bool>,
}

impl Design {
    /// An empty design with `features` columns (besides the intercept).
    pub fn new(features: usize) -> Design {
        Design {
            features,
            ..Design::default()
        }
    }

    /// Adds a row; features out of range are ignored.
    pub fn push(&mut self, row: impl IntoIterator<Item = (u32, f64)>, label: bool) {
        self.starts.push(self.entries.len());
        let features = self.features;
        self.entries
            .extend(row.into_iter().filter(|&(j, x)| (j as usize) < features && x != 0.0));
        self.labels.push(label);
    }

    /// Rows added.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// No rows yet.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    fn row(&self, i: usize) -> &[(u32, f64)] {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.entries.len());
        &self.entries[self.starts[i]..end]
    }
}

/// A fitted regression.
#[derive(Clone, Debug, PartialEq)]
pub struct Logistic {
    /// The intercept.
    pub intercept: f64,
    /// One coefficient per feature.
    pub coefficients: Vec<f64>,
    /// Their standard errors, from the inverse of the penalised Hessian.
    pub std_errors: Vec<f64>,
    /// Newton steps taken.
    pub iterations: usize,
}

/// Why a regression could not be fitted.
#[derive(Clone, Debug, PartialEq)]
pub enum FitError {
    /// No rows, or only one class.
    OneClass,
    /// The Hessian is not positive definite (only without regularisation).
    Singular,
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::OneClass => f.write_str("the training leads need both converted and other leads"),
            FitError::Singular => f.write_str("the features are collinear; add regularisation"),
        }
    }
}

/// The most Newton steps.
const MAX_ITERATIONS: usize = 100;

impl Logistic {
    /// Fits `P(y) = σ(b0 + Σ bj xj)` maximising the log-likelihood minus `λ/2 Σ bj²` (the
    /// intercept is not penalised).
    ///
    /// ```
    /// use leadscore_outcomes::fit::{Design, Logistic};
    /// let mut d = Design::new(1);
    /// for (x, y, n) in [(1.0, true, 30), (1.0, false, 10), (0.0, true, 10), (0.0, false, 30)] {
    ///     for _ in 0..n { d.push([(0, x)], y); }
    /// }
    /// let fit = Logistic::fit(&d, 0.0).unwrap();
    /// assert!((fit.coefficients[0] - 9f64.ln()).abs() < 1e-9, "the log odds ratio 30·30 / 10·10");
    /// ```
    pub fn fit(design: &Design, lambda: f64) -> Result<Logistic, FitError> {
        let positives = design.labels.iter().filter(|&&y| y).count();
        if positives == 0 || positives == design.len() {
            return Err(FitError::OneClass);
        }
        let p = design.features + 1;
        let mut beta = vec![0.0; p];
        beta[0] = (positives as f64 / (design.len() - positives) as f64).ln();
        let mut hessian = vec![0.0; p * p];
        let mut iterations = 0;
        loop {
            let gradient = newton_system(design, &beta, lambda, &mut hessian);
            let step = solve(&hessian, &gradient, p).ok_or(FitError::Singular)?;
            for (b, s) in beta.iter_mut().zip(&step) {
                *b += s;
            }
            iterations += 1;
            let largest = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
            if largest < 1e-10 || iterations >= MAX_ITERATIONS {
                break;
            }
        }
        newton_system(design, &beta, lambda, &mut hessian);
        let inverse = invert(&hessian, p).ok_or(FitError::Singular)?;
        let std_errors = (1..p).map(|j| inverse[j * p + j].max(0.0).sqrt()).collect();
        Ok(Logistic {
            intercept: beta[0],
            coefficients: beta[1..].to_vec(),
            std_errors,
            iterations,
        })
    }

    /// The linear predictor (log-odds) of a row.
    pub fn log_odds(&self, row: &[(u32, f64)]) -> f64 {
        self.intercept
            + row
                .iter()
                .map(|&(j, x)| self.coefficients.get(j as usize).map_or(0.0, |b| b * x))
                .sum::<f64>()
    }
}

/// Fills the penalised Hessian (negated, so positive definite) and returns the gradient.
fn newton_system(design: &Design, beta: &[f64], lambda: f64, hessian: &mut [f64]) -> Vec<f64> {
    let p = beta.len();
    hessian.iter_mut().for_each(|h| *h = 0.0);
    let mut gradient = vec![0.0; p];
    let mut x: Vec<(usize, f64)> = Vec::new();
    for i in 0..design.len() {
        x.clear();
        x.push((0, 1.0));
        x.extend(design.row(i).iter().map(|&(j, v)| (j as usize + 1, v)));
        let eta: f64 = x.iter().map(|&(j, v)| beta[j] * v).sum();
        let mu = 1.0 / (1.0 + (-eta).exp());
        let w = (mu * (1.0 - mu)).max(1e-12);
        let r = f64::from(u8::from(design.labels[i])) - mu;
        for &(j, vj) in &x {
            gradient[j] += r * vj;
            for &(k, vk) in &x {
                hessian[j * p + k] += w * vj * vk;
            }
        }
    }
    for j in 1..p {
        hessian[j * p + j] += lambda;
        gradient[j] -= lambda * beta[j];
    }
    gradient
}

/// The Cholesky factor `L` of a symmetric positive definite `p × p` matrix.
fn cholesky(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|k| l[i * p + k] * l[j * p + k]).sum();
            if i == j {
                let d = a[i * p + i] - sum;
                if d <= 1e-14 {
                    return None;
                }
                l[i * p + i] = d.sqrt();
            } else {
                l[i * p + j] = (a[i * p + j] - sum) / l[j * p + j];
            }
        }
    }
    Some(l)
}

/// Solves `A x = b` for symmetric positive definite `A`.
fn solve(a: &[f64], b: &[f64], p: usize) -> Option<Vec<f64>> {
    let l = cholesky(a, p)?;
    Some(cholesky_solve(&l, b, p))
}

fn cholesky_solve(l: &[f64], b: &[f64], p: usize) -> Vec<f64> {
    let mut y = vec![0.0; p];
    for i in 0..p {
        let sum: f64 = (0..i).map(|k| l[i * p + k] * y[k]).sum();
        y[i] = (b[i] - sum) / l[i * p + i];
    }
    let mut x = vec![0.0; p];
    for i in (0..p).rev() {
        let sum: f64 = (i + 1..p).map(|k| l[k * p + i] * x[k]).sum();
        x[i] = (y[i] - sum) / l[i * p + i];
    }
    x
}

/// The inverse of a symmetric positive definite matrix.
fn invert(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let l = cholesky(a, p)?;
    let mut inverse = vec![0.0; p * p];
    for j in 0..p {
        let mut e = vec![0.0; p];
        e[j] = 1.0;
        for (i, v) in cholesky_solve(&l, &e, p).into_iter().enumerate() {
            inverse[i * p + j] = v;
        }
    }
    Some(inverse)
}

/// The factor that turns coefficients into points: the fitted points keep the pack's
/// current total of points (Σ|old| = Σ|new| over the fitted rules), so caps, `mql when`
/// bounds and the threshold stay on the scale the pack was written in. `factor · ln 2`
/// points then double the odds.
pub fn scale(old_points: &[f64], coefficients: &[f64]) -> f64 {
    let old: f64 = old_points.iter().map(|p| p.abs()).sum();
    let new: f64 = coefficients.iter().map(|b| b.abs()).sum();
    if old > 0.0 && new > 0.0 {
        old / new
    } else {
        20.0 / std::f64::consts::LN_2
    }
}

/// 1.96: the half-width of a 95% interval in standard errors.
pub const Z95: f64 = 1.959_964;

#[cfg(test)]
mod tests {
    use super::*;

    fn table(a: usize, b: usize, c: usize, d: usize) -> Design {
        // a: x=1 converted, b: x=1 not, c: x=0 converted, d: x=0 not.
        let mut design = Design::new(1);
        for (x, y, n) in [(1.0, true, a), (1.0, false, b), (0.0, true, c), (0.0, false, d)] {
            for _ in 0..n {
                design.push([(0, x)], y);
            }
        }
        design
    }

    #[test]
    fn two_by_two_table_has_a_closed_form() {
        let fit = Logistic::fit(&table(40, 60, 10, 90), 0.0).unwrap();
        let (a, b, c, d) = (40.0f64, 60.0f64, 10.0f64, 90.0f64);
        assert!((fit.intercept - (c / d).ln()).abs() < 1e-9);
        assert!((fit.coefficients[0] - (a * d / (b * c)).ln()).abs() < 1e-9);
        let se = (1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d).sqrt();
        assert!((fit.std_errors[0] - se).abs() < 1e-6, "{} vs {se}", fit.std_errors[0]);
    }

    #[test]
    fn regularisation_shrinks() {
        let plain = Logistic::fit(&table(40, 60, 10, 90), 0.0).unwrap();
        let shrunk = Logistic::fit(&table(40, 60, 10, 90), 50.0).unwrap();
        assert!(shrunk.coefficients[0] > 0.0 && shrunk.coefficients[0] < plain.coefficients[0]);
    }

    #[test]
    fn separated_data_still_fits_with_a_penalty() {
        let fit = Logistic::fit(&table(50, 0, 0, 50), 1.0).unwrap();
        assert!(fit.coefficients[0] > 2.0 && fit.coefficients[0].is_finite());
        assert_eq!(Logistic::fit(&table(5, 5, 0, 0), 1.0).map(|_| ()), Ok(()));
        assert_eq!(Logistic::fit(&table(5, 0, 5, 0), 1.0), Err(FitError::OneClass));
    }

    #[test]
    fn two_features_recover_planted_weights() {
        // Deterministic pseudo-random data from a known model: b0 = -1, b1 = 2, b2 = -1.
        let mut state = 7u64;
        let mut unit = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut design = Design::new(2);
        for _ in 0..40_000 {
            let (x1, x2) = (f64::from(u8::from(unit() < 0.4)), (unit() * 4.0).floor());
            let p = 1.0 / (1.0 + (-(-1.0 + 2.0 * x1 - x2)).exp());
            design.push([(0, x1), (1, x2)], unit() < p);
        }
        let fit = Logistic::fit(&design, 1.0).unwrap();
        assert!((fit.intercept + 1.0).abs() < 0.1, "{fit:?}");
        assert!((fit.coefficients[0] - 2.0).abs() < 0.1, "{fit:?}");
        assert!((fit.coefficients[1] + 1.0).abs() < 0.05, "{fit:?}");
        for (b, se) in fit.coefficients.iter().zip(&fit.std_errors) {
            assert!(*se > 0.0 && *se < 0.1 && b.is_finite());
        }
    }
}
