//! What an application author leans on besides the math: the profiler
//! names the kernels of a jitted training step with the equations they
//! fused, and a `#[derive(Tree)]` model saves to safetensors under field
//! paths and reloads by name.

mod common;
use common::on_embedded;
use oxjax::{Array, Axes, DType, Tree, interop, jit, profile, value_and_grad_with};

#[derive(Clone, Tree)]
struct Layer {
    w: Array,
    b: Array,
}

#[derive(Clone, Tree)]
struct Model {
    layers: Vec<Layer>,
    scale: (Array, Array),
    #[tree(skip)]
    name: String,
}

fn model() -> Model {
    let m = |r: usize, c: usize, k: f64| {
        Array::arange(0.0, (r * c) as f64, 1.0, DType::F32).reshape(&[r as isize, c as isize])
            * (k / (r * c) as f64)
    };
    Model {
        layers: vec![
            Layer {
                w: m(4, 8, 0.5),
                b: Array::zeros(&[8], DType::F32),
            },
            Layer {
                w: m(8, 3, -0.25),
                b: Array::ones(&[3], DType::F32),
            },
        ],
        scale: (Array::scalar(2.0f32), Array::scalar(0.5f32)),
        name: "mlp".into(),
    }
}

fn forward(p: &Model, x: &Array) -> Array {
    let h = (x.matmul(&p.layers[0].w) + &p.layers[0].b).maximum(0.0);
    (h.matmul(&p.layers[1].w) + &p.layers[1].b) * &p.scale.0 + &p.scale.1
}

#[test]
fn derived_trees_name_their_leaves_by_field_path() {
    let m = on_embedded(model);
    assert_eq!(
        m.leaf_paths(),
        [
            "layers.0.w",
            "layers.0.b",
            "layers.1.w",
            "layers.1.b",
            "scale.0",
            "scale.1"
        ]
    );
    assert_eq!(m.leaf_paths().len(), m.leaves().len());
}

#[test]
fn a_checkpoint_of_a_derived_tree_reloads_by_name() {
    on_embedded(|| {
        let m = model();
        let path = std::env::temp_dir().join(format!(
            "oxjax-checkpoint-{}.safetensors",
            std::process::id()
        ));
        interop::save_safetensors_tree(&path, &m).unwrap();
        // Any safetensors reader sees the names.
        let raw = interop::load_safetensors(&path).unwrap();
        let keys: Vec<&str> = raw.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "layers.0.b",
                "layers.0.w",
                "layers.1.b",
                "layers.1.w",
                "scale.0",
                "scale.1"
            ]
        );
        assert_eq!(raw["layers.1.w"].shape(), [8, 3]);
        // Reloaded into a model of the same structure, leaf by name.
        let mut blank = model();
        blank.layers.iter_mut().for_each(|l| {
            l.w = Array::zeros(l.w.shape(), DType::F32);
            l.b = Array::zeros(l.b.shape(), DType::F32);
        });
        let back = interop::load_safetensors_tree(&path, &blank).unwrap();
        assert_eq!(back.name, "mlp");
        for (a, b) in back.leaves().iter().zip(m.leaves()) {
            assert_eq!(a.to_vec::<f32>(), b.to_vec::<f32>());
        }
        // A structure the file does not match is refused by leaf name.
        let mut wider = model();
        wider.layers[0].w = Array::zeros(&[4, 9], DType::F32);
        let err = interop::load_safetensors_tree(&path, &wider)
            .err()
            .expect("a shape mismatch is an error")
            .to_string();
        assert!(
            err.contains("\"layers.0.w\"") && err.contains("[4, 8]"),
            "{err}"
        );
        let _ = std::fs::remove_file(&path);
    });
}

/// The model's jitted SGD step on a mean-square loss: (new model, loss).
fn training_step() -> impl Fn(&(Model, Array)) -> (Model, Array) {
    let loss = |p: &Model, x: &Array| {
        let y = forward(p, x);
        (&y * &y).mean(Axes::All, false)
    };
    jit(move |(p, x): &(Model, Array)| {
        let (l, g) = value_and_grad_with(loss)(p, x);
        (p.map2(&g, |w, dw| w - &(dw * 0.01)), l)
    })
}

fn batch() -> Array {
    Array::arange(0.0, 64.0, 1.0, DType::F32).reshape(&[16, 4]) / 64.0
}

/// `OXJAX_PROFILE=N` on a process that runs a jitted training step prints
/// at exit the N slowest kernels, slowest first, each with the jaxpr
/// equations it fused. The process is this test binary, rerun on the
/// ignored test below.
#[test]
fn oxjax_profile_names_the_slowest_kernels_of_a_training_step_at_exit() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "training_steps_for_the_profiler", "--ignored"])
        .env("OXJAX_PROFILE", "4")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let table: Vec<&str> = err
        .lines()
        .skip_while(|l| !l.starts_with("oxjax profile:"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(table.len(), 2 + 4, "the top 4 under a header:\n{err}");
    let kernels = &table[2..];
    assert!(kernels.iter().all(|l| l.contains("<- ")), "{err}");
    assert!(
        kernels.iter().any(|l| l.contains("dot_general")),
        "the step's matmuls are among the slowest:\n{err}"
    );
}

#[test]
#[ignore = "the process profiled by the test above (OXJAX_PROFILE set)"]
fn training_steps_for_the_profiler() {
    on_embedded(|| {
        let (step, x) = (training_step(), batch());
        let mut m = model();
        for _ in 0..3 {
            m = step(&(m, x.clone())).0;
        }
    });
}

#[test]
fn the_profiler_names_the_kernels_of_a_training_step() {
    on_embedded(|| {
        let (step, x) = (training_step(), batch());
        let m = model();
        let ((m1, l1), report) = profile(|| {
            let (m1, l1) = step(&(m.clone(), x.clone()));
            let _ = step(&(m1.clone(), x.clone()));
            (m1, l1)
        });
        // The profiled run computes what an unprofiled one does.
        let (m2, l2) = step(&(m, x));
        assert_eq!(l1.item::<f32>(), l2.item::<f32>());
        assert_eq!(
            m1.layers[0].w.to_vec::<f32>(),
            m2.layers[0].w.to_vec::<f32>()
        );

        assert!(!report.kernels.is_empty(), "no kernel recorded");
        for k in &report.kernels {
            assert_eq!(k.launches, 2, "two steps: {k:?}");
            assert!(k.bytes > 0 && !k.origin.is_empty(), "{k:?}");
            assert_eq!(k.device, "embedded");
        }
        // Slowest first, and the matmuls of the step are named.
        assert!(report.kernels.windows(2).all(|w| w[0].time >= w[1].time));
        assert!(
            report
                .kernels
                .iter()
                .any(|k| k.origin.contains("dot_general")),
            "{}",
            report.table(50)
        );
        let table = report.table(3);
        assert!(
            table.contains("oxjax profile:") && table.contains("<- "),
            "{table}"
        );
        assert_eq!(
            table.lines().count(),
            2 + 3.min(report.kernels.len()),
            "{table}"
        );
    });
}

trait Map2 {
    fn map2(&self, other: &Self, f: impl Fn(&Array, &Array) -> Array) -> Self;
}

impl<T: Tree> Map2 for T {
    fn map2(&self, other: &Self, f: impl Fn(&Array, &Array) -> Array) -> Self {
        let o = other.leaves();
        self.unflatten(self.leaves().iter().zip(&o).map(|(a, b)| f(a, b)).collect())
    }
}

#[test]
fn jax_habits_square_stack_and_block_until_ready() {
    on_embedded(|| {
        let x = Array::from_vec(vec![1.0f32, -2.0, 3.0], &[3]);
        assert_eq!(x.square().to_vec::<f32>(), [1.0, 4.0, 9.0]);
        let s = Array::stack(&[&x, &x.square()], 0);
        assert_eq!(s.shape(), [2, 3]);
        assert_eq!(s.to_vec::<f32>(), [1.0, -2.0, 3.0, 1.0, 4.0, 9.0]);
        let y = (&x * 2.0).exp();
        assert_eq!(y.block_until_ready().shape(), [3]);
    });
}
