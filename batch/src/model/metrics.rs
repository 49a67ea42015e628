//! Evaluation metrics, written out rather than taken from a library so that
//! their definitions (ties, clipping) are explicit and match scikit-learn's.

/// Probabilities are clipped to `[EPS, 1 − EPS]` before taking logs, as
/// scikit-learn's `log_loss` does, so one confident miss is large, not infinite.
const EPS: f64 = 1e-15;

/// Area under the ROC curve as the Mann-Whitney statistic: the probability
/// that a random positive scores above a random negative, ties counting ½.
/// Computed from average ranks (tied scores share the mean of their ranks),
/// which gives exactly that tie rule. `None` when either class is absent.
pub(crate) fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let positives = labels.iter().filter(|l| **l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 || scores.len() != labels.len() {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && scores[order[end + 1]] == scores[order[start]] {
            end += 1;
        }
        // Ranks start..=end (1-based: start+1 ..= end+1) share their mean.
        let mean_rank = (start + end) as f64 / 2.0 + 1.0;
        let tied_positives = order[start..=end].iter().filter(|i| labels[**i]).count();
        positive_rank_sum += mean_rank * tied_positives as f64;
        start = end + 1;
    }
    let p = positives as f64;
    Some((positive_rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// Mean negative log-likelihood (natural log) of the labels.
pub(crate) fn log_loss(probabilities: &[f64], labels: &[bool]) -> f64 {
    let total: f64 = probabilities
        .iter()
        .zip(labels)
        .map(|(p, y)| {
            let p = p.clamp(EPS, 1.0 - EPS);
            if *y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    total / labels.len().max(1) as f64
}

/// Share of rows where `p ≥ 0.5` agrees with the label.
pub(crate) fn accuracy(probabilities: &[f64], labels: &[bool]) -> f64 {
    let right = probabilities
        .iter()
        .zip(labels)
        .filter(|(p, y)| (**p >= 0.5) == **y)
        .count();
    right as f64 / labels.len().max(1) as f64
}

/// Share of positive labels.
pub(crate) fn positive_rate(labels: &[bool]) -> f64 {
    labels.iter().filter(|l| **l).count() as f64 / labels.len().max(1) as f64
}

/// Mean absolute error.
pub(crate) fn mae(predicted: &[f64], actual: &[f64]) -> f64 {
    let total: f64 = predicted
        .iter()
        .zip(actual)
        .map(|(p, a)| (p - a).abs())
        .sum();
    total / actual.len().max(1) as f64
}

/// Root mean squared error.
pub(crate) fn rmse(predicted: &[f64], actual: &[f64]) -> f64 {
    let total: f64 = predicted
        .iter()
        .zip(actual)
        .map(|(p, a)| (p - a) * (p - a))
        .sum();
    (total / actual.len().max(1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_as_half() {
        // Positives score 0.8, 0.4, 0.4; negatives 0.4, 0.1.
        // Pairs (pos, neg): (0.8,0.4)=1 (0.8,0.1)=1 (0.4,0.4)=½ (0.4,0.1)=1
        // (0.4,0.4)=½ (0.4,0.1)=1 → 5 of 6 pairs.
        let scores = [0.8, 0.4, 0.4, 0.4, 0.1];
        let labels = [true, true, true, false, false];
        assert_eq!(auc(&scores, &labels), Some(5.0 / 6.0));
    }

    #[test]
    fn auc_extremes_and_degenerate_cases() {
        assert_eq!(auc(&[0.9, 0.1], &[true, false]), Some(1.0));
        assert_eq!(auc(&[0.1, 0.9], &[true, false]), Some(0.0));
        // All tied: every pair counts ½.
        assert_eq!(auc(&[0.5; 4], &[true, false, true, false]), Some(0.5));
        assert_eq!(auc(&[0.5, 0.6], &[true, true]), None);
    }

    #[test]
    fn auc_matches_pair_counting_on_many_ties() {
        let scores: Vec<f64> = (0..60).map(|i| f64::from(i % 7) / 7.0).collect();
        let labels: Vec<bool> = (0..60).map(|i| (i * 13) % 5 < 2).collect();
        let mut wins = 0.0;
        let mut pairs = 0.0;
        for (sp, _) in scores.iter().zip(&labels).filter(|(_, l)| **l) {
            for (sn, _) in scores.iter().zip(&labels).filter(|(_, l)| !**l) {
                pairs += 1.0;
                wins += if sp > sn {
                    1.0
                } else if sp == sn {
                    0.5
                } else {
                    0.0
                };
            }
        }
        let got = auc(&scores, &labels).expect("both classes");
        assert!(
            (got - wins / pairs).abs() < 1e-12,
            "{got} vs {}",
            wins / pairs
        );
    }

    #[test]
    fn log_loss_accuracy_and_errors() {
        let p = [0.9, 0.2, 0.5];
        let y = [true, false, false];
        let expected = -(0.9f64.ln() + 0.8f64.ln() + 0.5f64.ln()) / 3.0;
        assert!((log_loss(&p, &y) - expected).abs() < 1e-15);
        assert!(log_loss(&[1.0], &[false]).is_finite());
        // 0.5 counts as "yes": wrong for the third row.
        assert_eq!(accuracy(&p, &y), 2.0 / 3.0);
        assert_eq!(mae(&[1.0, 4.0], &[2.0, 2.0]), 1.5);
        assert_eq!(rmse(&[1.0, 4.0], &[2.0, 2.0]), 2.5f64.sqrt());
    }
}
