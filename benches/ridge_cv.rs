//! Projection + cross-validated ridge on a synthetic 20 000 × 1024 set: the
//! work of one (model, layer) in `cpd analyze` with two targets.
//!
//! `cargo bench --bench ridge_cv`. The comparison against scikit-learn on the
//! same data is `scripts/bench_vs_sklearn.py`.

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::{Array2, Axis};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use cpd::flow::folds::Folds;
use cpd::flow::projection::Projection;
use cpd::flow::rows::Dense;
use cpd::probe::cv::cross_validate;
use cpd::probe::ridge::RidgeParams;

struct Synthetic {
    h: Array2<f64>,
    c: Array2<f64>,
    y: Array2<f64>,
}

fn synthetic(n: usize, d: usize) -> Synthetic {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let c = Array2::from_shape_fn((n, 5), |_| rng.random_range(0..10) as f64);
    let latent = Array2::from_shape_fn((n, 32), |_| rng.random::<f64>() - 0.5);
    let mix = Array2::from_shape_fn((32, d), |_| rng.random::<f64>() - 0.5);
    let comp_mix = Array2::from_shape_fn((5, d), |_| rng.random::<f64>());
    let noise = Array2::from_shape_fn((n, d), |_| 0.1 * (rng.random::<f64>() - 0.5));
    let h = latent.dot(&mix) + c.dot(&comp_mix) + noise;
    let mut y = Array2::zeros((n, 2));
    for i in 0..n {
        y[(i, 0)] = latent[(i, 0)] + 0.3 * c[(i, 1)] + 0.05 * rng.random::<f64>();
        y[(i, 1)] = (latent[(i, 1)] * 3.0).sin() + c[(i, 0)];
    }
    Synthetic { h, c, y }
}

fn bench(crit: &mut Criterion) {
    let names: Vec<String> = ["H", "C", "N", "O", "F"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut group = crit.benchmark_group("ridge_cv");
    group.sample_size(10);
    for &(n, d) in &[(2_000usize, 256usize), (20_000, 1024)] {
        let data = synthetic(n, d);
        let folds = Folds::shuffled(n, 5, 0).unwrap();
        let ridge = RidgeParams::default().check().unwrap();
        group.bench_function(format!("project+ridgecv_{n}x{d}"), |b| {
            b.iter(|| {
                let p = Projection::new(data.c.view(), &names);
                let h = Dense(data.h.view());
                let geom = p.residual_rows(&h, 1e-9);
                let s = cross_validate(&ridge, &geom, data.y.view(), &folds).unwrap();
                assert_eq!(s.len(), data.y.len_of(Axis(1)));
                s
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
