//! Any valid model survives encode/decode unchanged: a generated `ModelSpec` (random trees with
//! numeric and categorical splits, every missing mode, f32 and f64 numerics, ranges, linear terms,
//! optional sections, arbitrary node numbering) written by the builder and loaded by the engine
//! reads back, through the model's accessors and tree views, as exactly the spec (f32/f64 bits),
//! and the spec rebuilt from the views writes the same bytes.

use lockstep_engine::builder::{linear_section, Condition, ModelSpec, NodeSpec, TreeSpec};
use lockstep_engine::format::{
    Aggregation, BaseOrder, Framework, MissingMode, Numerics, Objective, SECTION_LINEAR,
};
use lockstep_engine::view::{NodeView, SplitTest, TreeView};
use lockstep_engine::Model;
use proptest::prelude::*;

/// A tree in a numbering-free form: what both the spec and the loaded model must describe.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    /// A leaf, by the bits of its value.
    Leaf(u64),
    Split {
        feature: usize,
        test: Test,
        missing: MissingMode,
        default_left: bool,
        left: Box<Shape>,
        right: Box<Shape>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    /// Threshold bits.
    Less(u32),
    /// Members, increasing, without repeats.
    Categories(Vec<u32>),
}

/// Everything a generated model is made of, before it becomes a `ModelSpec`.
#[derive(Debug, Clone)]
struct Generated {
    spec: ModelSpec,
    /// The even-tagged optional sections added (the linear section is read back separately).
    extra_tags: Vec<u32>,
}

fn missing_mode() -> impl Strategy<Value = MissingMode> {
    prop_oneof![
        Just(MissingMode::NanDefault),
        Just(MissingMode::ZeroOrNanDefault),
        Just(MissingMode::NanAsZero),
    ]
}

/// A finite f32, often a "round" one, sometimes an extreme or a subnormal.
fn finite_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        (-1000i32..1000).prop_map(|i| i as f32 / 8.0),
        any::<f32>().prop_filter("finite", |x| x.is_finite()),
        Just(f32::MAX),
        Just(f32::MIN),
        Just(1e-45f32),
        Just(-0.0f32),
    ]
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        finite_f32().prop_map(f64::from),
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
    ]
}

/// A threshold: any f32 but NaN (the loader refuses NaN thresholds), infinities included.
fn threshold() -> impl Strategy<Value = f32> {
    prop_oneof![finite_f32(), Just(f32::INFINITY), Just(f32::NEG_INFINITY),]
}

/// A tree of depth at most 6 over `n_features` features, leaves exact in the model's precision.
fn shape(n_features: usize, f64_leaves: bool) -> impl Strategy<Value = Shape> {
    let leaf = if f64_leaves {
        finite_f64().prop_map(|v| Shape::Leaf(v.to_bits())).boxed()
    } else {
        finite_f32()
            .prop_map(|v| Shape::Leaf(f64::from(v).to_bits()))
            .boxed()
    };
    leaf.prop_recursive(6, 64, 2, move |inner| {
        let test = prop_oneof![
            3 => threshold().prop_map(|t| Test::Less(t.to_bits())),
            1 => prop::collection::btree_set(
                prop_oneof![0u32..64, 0u32..5000],
                0..6
            )
            .prop_map(|set| Test::Categories(set.into_iter().collect())),
        ];
        (
            0..n_features,
            test,
            missing_mode(),
            any::<bool>(),
            inner.clone(),
            inner,
        )
            .prop_map(
                |(feature, test, missing, default_left, left, right)| Shape::Split {
                    feature,
                    test,
                    missing,
                    default_left,
                    left: Box::new(left),
                    right: Box::new(right),
                },
            )
    })
}

/// Lays a shape out as spec nodes, root at 0, the other nodes numbered by `order` (a
/// permutation seed), so the builder's own breadth-first layout is exercised.
fn to_nodes(shape: &Shape, output: usize, order: u64) -> TreeSpec {
    fn count(shape: &Shape) -> usize {
        match shape {
            Shape::Leaf(_) => 1,
            Shape::Split { left, right, .. } => 1 + count(left) + count(right),
        }
    }
    let n = count(shape);
    // Slot i (pre-order position) -> node index: 0 stays the root, the rest shuffled.
    let mut index: Vec<usize> = (0..n).collect();
    let mut state = order | 1;
    for i in (2..n).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = 1 + (state >> 33) as usize % i;
        index.swap(i, j);
    }
    let mut nodes = vec![NodeSpec::Leaf { value: 0.0 }; n];
    fn place(shape: &Shape, slot: &mut usize, index: &[usize], nodes: &mut [NodeSpec]) -> usize {
        let me = index[*slot];
        *slot += 1;
        nodes[me] = match shape {
            Shape::Leaf(bits) => NodeSpec::Leaf {
                value: f64::from_bits(*bits),
            },
            Shape::Split {
                feature,
                test,
                missing,
                default_left,
                left,
                right,
            } => {
                let left = place(left, slot, index, nodes);
                let right = place(right, slot, index, nodes);
                NodeSpec::Split {
                    feature: *feature,
                    condition: match test {
                        Test::Less(bits) => Condition::Less(f32::from_bits(*bits)),
                        Test::Categories(set) => Condition::Categories(set.clone()),
                    },
                    missing: *missing,
                    default_left: *default_left,
                    left,
                    right,
                }
            }
        };
        me
    }
    place(shape, &mut 0, &index, &mut nodes);
    TreeSpec { output, nodes }
}

/// The shape of a spec tree, following child indices from the root.
fn spec_shape(tree: &TreeSpec, node: usize) -> Shape {
    match &tree.nodes[node] {
        NodeSpec::Leaf { value } => Shape::Leaf(value.to_bits()),
        NodeSpec::Split {
            feature,
            condition,
            missing,
            default_left,
            left,
            right,
        } => Shape::Split {
            feature: *feature,
            test: match condition {
                Condition::Less(t) => Test::Less(t.to_bits()),
                Condition::Categories(set) => {
                    let mut set = set.clone();
                    set.sort_unstable();
                    set.dedup();
                    Test::Categories(set)
                }
            },
            missing: *missing,
            default_left: *default_left,
            left: Box::new(spec_shape(tree, *left)),
            right: Box::new(spec_shape(tree, *right)),
        },
    }
}

/// The shape of a loaded tree, following the view's child indices (right = left + 1).
fn view_shape(tree: &TreeView<'_>, node: usize) -> Shape {
    match tree.node(node).expect("node in range") {
        NodeView::Leaf { value } => Shape::Leaf(value.to_bits()),
        NodeView::Split {
            feature,
            test,
            missing,
            default_left,
            left,
        } => Shape::Split {
            feature,
            test: match test {
                SplitTest::Less(t) => Test::Less(t.to_bits()),
                SplitTest::Categories(set) => Test::Categories(set.members().collect()),
            },
            missing,
            default_left,
            left: Box::new(view_shape(tree, left)),
            right: Box::new(view_shape(tree, left + 1)),
        },
    }
}

fn objective_and_outputs() -> impl Strategy<Value = (Objective, usize)> {
    prop_oneof![
        Just((Objective::BinaryLogistic, 1)),
        (1usize..=3).prop_map(|k| (Objective::Regression, k)),
        (2usize..=4).prop_map(|k| (Objective::MulticlassSoftmax, k)),
        (2usize..=4).prop_map(|k| (Objective::MulticlassOneVsRest, k)),
    ]
}

fn numerics() -> impl Strategy<Value = Numerics> {
    prop_oneof![
        Just(Numerics::Xgboost),
        Just(Numerics::XgboostLegacy),
        (0.01f64..20.0).prop_map(|sigmoid| Numerics::Lightgbm { sigmoid }),
    ]
}

fn framework() -> impl Strategy<Value = Framework> {
    prop_oneof![
        Just(Framework::Unknown),
        Just(Framework::Xgboost),
        Just(Framework::Lightgbm),
        Just(Framework::Lockstep),
    ]
}

fn model() -> impl Strategy<Value = Generated> {
    (
        1usize..=6,
        objective_and_outputs(),
        numerics(),
        prop_oneof![Just(Aggregation::Sum), Just(Aggregation::Mean)],
        prop_oneof![Just(BaseOrder::First), Just(BaseOrder::Last)],
        1usize..=3,
    )
        .prop_flat_map(
            |(n_features, (objective, n_outputs), numerics, aggregation, base_order, rounds)| {
                let f64_model = numerics.is_f64();
                let margin = if f64_model {
                    finite_f64().boxed()
                } else {
                    finite_f32().prop_map(f64::from).boxed()
                };
                // Linear terms fit single-output f64 models summed over trees.
                let linear_fits = f64_model
                    && n_outputs == 1
                    && aggregation == Aggregation::Sum
                    && matches!(objective, Objective::BinaryLogistic | Objective::Regression);
                let linear = if linear_fits {
                    prop::option::of(prop::collection::vec(
                        (finite_f64(), finite_f64()),
                        n_features,
                    ))
                    .boxed()
                } else {
                    Just(None).boxed()
                };
                (
                    Just((
                        n_features,
                        objective,
                        n_outputs,
                        numerics,
                        aggregation,
                        base_order,
                    )),
                    prop::collection::vec(margin, n_outputs),
                    prop::collection::vec("[a-zA-Z_ é0-9]{0,10}", n_features),
                    prop::option::of(prop::collection::vec(
                        (finite_f32(), finite_f32()),
                        n_features,
                    )),
                    // One tree per output per round: an even forest, as Mean needs.
                    prop::collection::vec(
                        (shape(n_features, f64_model), any::<u64>()),
                        rounds * n_outputs,
                    ),
                    linear,
                    prop::collection::btree_map(
                        (0u32..50).prop_map(|t| t * 2),
                        prop::collection::vec(any::<u8>(), 0..12),
                        0..3,
                    ),
                    (framework(), "[0-9.a-z]{0,8}", "[ -~]{0,20}"),
                )
            },
        )
        .prop_map(
            |(
                (n_features, objective, n_outputs, numerics, aggregation, base_order),
                base_margins,
                names,
                ranges,
                shapes,
                linear,
                extra,
                (source_framework, source_version, label),
            )| {
                let trees = shapes
                    .iter()
                    .enumerate()
                    .map(|(i, (shape, order))| to_nodes(shape, i % n_outputs, *order))
                    .collect();
                let mut sections: Vec<(u32, Vec<u8>)> = Vec::new();
                if let Some(terms) = &linear {
                    sections.push(linear_section(terms));
                }
                let extra_tags: Vec<u32> = extra.keys().copied().collect();
                sections.extend(extra);
                Generated {
                    spec: ModelSpec {
                        n_outputs,
                        objective,
                        numerics,
                        base_order,
                        aggregation,
                        base_margins,
                        // A prefix keeps names distinct (the importers refuse repeats).
                        feature_names: names
                            .into_iter()
                            .enumerate()
                            .take(n_features)
                            .map(|(i, name)| format!("f{i}{name}"))
                            .collect(),
                        feature_ranges: ranges.map(|r| {
                            r.into_iter()
                                .map(|(a, b)| if a <= b { (a, b) } else { (b, a) })
                                .collect()
                        }),
                        trees,
                        source_framework,
                        source_version,
                        label,
                        sections,
                    },
                    extra_tags,
                }
            },
        )
}

/// Rebuilds a spec from a loaded model, numbering each tree's nodes as the views do.
fn spec_from_model(model: &Model<'_>, extra_tags: &[u32]) -> ModelSpec {
    let trees = model
        .trees()
        .map(|tree| TreeSpec {
            output: tree.output(),
            nodes: tree
                .nodes()
                .map(|node| match node {
                    NodeView::Leaf { value } => NodeSpec::Leaf { value },
                    NodeView::Split {
                        feature,
                        test,
                        missing,
                        default_left,
                        left,
                    } => NodeSpec::Split {
                        feature,
                        condition: match test {
                            SplitTest::Less(t) => Condition::Less(t),
                            SplitTest::Categories(set) => {
                                Condition::Categories(set.members().collect())
                            }
                        },
                        missing,
                        default_left,
                        left,
                        right: left + 1,
                    },
                })
                .collect(),
        })
        .collect();
    let n = model.n_features();
    let mut sections = Vec::new();
    if model.has_linear_terms() {
        let terms: Vec<(f64, f64)> = (0..n).map(|f| model.linear_term(f).unwrap()).collect();
        sections.push(linear_section(&terms));
    }
    for &tag in extra_tags {
        sections.push((tag, model.section(tag).unwrap().to_vec()));
    }
    let ranges: Vec<(f32, f32)> = (0..n).filter_map(|f| model.feature_range(f)).collect();
    let source = model.source();
    ModelSpec {
        n_outputs: model.n_outputs(),
        objective: model.objective(),
        numerics: model.numerics(),
        base_order: model.base_order(),
        aggregation: model.aggregation(),
        base_margins: (0..model.n_outputs())
            .map(|k| model.base_margin(k))
            .collect(),
        feature_names: model.feature_names().map(str::to_string).collect(),
        feature_ranges: (!ranges.is_empty()).then_some(ranges),
        trees,
        source_framework: source.framework,
        source_version: source.version.to_string(),
        label: model.label().to_string(),
        sections,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_valid_model_survives_encode_and_decode(generated in model()) {
        let Generated { spec, extra_tags } = generated;
        let bytes = spec.to_bytes().map_err(|e| TestCaseError::fail(format!("build: {e}")))?;
        prop_assert_eq!(&spec.to_bytes().unwrap(), &bytes, "the writer is deterministic");
        let model = Model::from_bytes(&bytes)
            .map_err(|e| TestCaseError::fail(format!("load: {e}")))?;

        prop_assert_eq!(model.n_features(), spec.feature_names.len());
        prop_assert_eq!(model.n_outputs(), spec.n_outputs);
        prop_assert_eq!(model.objective(), spec.objective);
        prop_assert_eq!(model.numerics(), spec.numerics);
        prop_assert_eq!(model.base_order(), spec.base_order);
        prop_assert_eq!(model.aggregation(), spec.aggregation);
        for (k, margin) in spec.base_margins.iter().enumerate() {
            prop_assert_eq!(model.base_margin(k).to_bits(), margin.to_bits());
        }
        prop_assert_eq!(model.feature_names().collect::<Vec<_>>(), spec.feature_names.iter().map(String::as_str).collect::<Vec<_>>());
        for f in 0..model.n_features() {
            let expected = spec.feature_ranges.as_ref().map(|r| (r[f].0.to_bits(), r[f].1.to_bits()));
            prop_assert_eq!(model.feature_range(f).map(|(a, b)| (a.to_bits(), b.to_bits())), expected);
        }
        prop_assert_eq!(model.source().framework, spec.source_framework);
        prop_assert_eq!(model.source().version, spec.source_version.as_str());
        prop_assert_eq!(model.label(), spec.label.as_str());
        for (tag, payload) in &spec.sections {
            if *tag == SECTION_LINEAR {
                for f in 0..model.n_features() {
                    let (c, fill) = model.linear_term(f).expect("linear term");
                    let at = f * 16;
                    prop_assert_eq!(&c.to_le_bytes()[..], &payload[at..at + 8]);
                    prop_assert_eq!(&fill.to_le_bytes()[..], &payload[at + 8..at + 16]);
                }
            } else {
                prop_assert_eq!(model.section(*tag), Some(payload.as_slice()));
            }
        }
        prop_assert_eq!(model.has_linear_terms(), spec.sections.iter().any(|(t, _)| *t == SECTION_LINEAR));

        prop_assert_eq!(model.n_trees(), spec.trees.len());
        for (tree, loaded) in spec.trees.iter().zip(model.trees()) {
            prop_assert_eq!(loaded.output(), tree.output);
            prop_assert_eq!(loaded.n_nodes(), tree.nodes.len());
            prop_assert_eq!(view_shape(&loaded, 0), spec_shape(tree, 0));
        }

        // And back: the spec the views describe writes the very same bytes.
        let again = spec_from_model(&model, &extra_tags);
        prop_assert_eq!(again.to_bytes().map_err(|e| TestCaseError::fail(format!("rebuild: {e}")))?, bytes);
    }
}
