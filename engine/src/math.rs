//! The transcendental functions on the inference path (`expf`, `logf`, `exp`) and the
//! XGBoost / LightGBM sigmoid output transforms built on them.
//!
//! Invariant: every function returns the same bits as glibc 2.36 on x86_64 with FMA and AVX2,
//! i.e. the `__expf_fma`, `__logf_fma` and `__ieee754_exp_fma` variants that glibc's ifunc
//! selects there, and it does so on every target through one code path. That holds because the
//! code only uses IEEE-754 `+ - * /`, conversions and bit moves, which are correctly rounded
//! everywhere (soft-float included) and which Rust never contracts or reassociates; the fused
//! multiply-adds that the reference build emits are reproduced by `fma`, an exact emulation
//! built from those same operations. NaN results are "a NaN": the payload is not pinned.
//!
//! The algorithms (table-driven reduction plus a short polynomial, evaluated in `f64`) are the
//! ones glibc took from Arm's optimized-routines; `f64` is used internally because that is how
//! the reference computes, and it is the only way to agree with it bit for bit. The tables are
//! written by `engine/tools/gen_math_tables.py` from their mathematical definitions.
//!
//! `expf` first runs `expf_fast`, the same expression in 64-bit integer fixed point (no `f64`
//! at all, so cheap on Cortex-M, where `f64` is soft-float), which answers only when a proven
//! error bound shows which f32 the reference's double rounds to; for the rest (39 of the 2^32
//! inputs, plus the special cases) it runs the `f64` reference emulation `expf_exact`. Both are
//! checked against each other and against glibc on every input.
//!
//! Never: std float functions, target intrinsics, hardware FMA, `unsafe`, or a per-target branch.
//! `errno` and floating-point exception flags, which glibc also sets, are not modelled.

// ---------------------------------------------------------------------------------------------
// Exact fused multiply-add from f64 operations.
//
// glibc's FMA build computes several `a * b + c` with one rounding. `fma` reproduces that with
// the emulation of Boldo and Melquiond ("Emulation of FMA and correctly rounded sums: proved
// algorithms using rounding to odd", IEEE Trans. Computers 57(4), 2008, algorithm 5.4):
//
//   (ph, pl) = a * b exactly            (Dekker's product with Veltkamp's split)
//   (sh, sl) = c + ph exactly           (Knuth's two-sum)
//   v        = sl + pl rounded to odd   (two-sum, then force the last bit when inexact)
//   result   = sh + v rounded to nearest
//
// Rounding the small part to odd keeps a sticky bit, so the final rounding cannot be a double
// rounding; the paper proves the result equals RN(a * b + c) for binary64. The hypotheses are
// that nothing overflows and that Dekker's partial products do not underflow. Those products are
// multiples of ulp(a) * ulp(b) = 2^(ea + eb - 104) (ea, eb the exponents of a and b), so they are
// exact when a or b is zero or ea + eb >= -970. Every call site meets that with a wide margin:
// operands are table values, polynomial coefficients (>= 2^-13), and reduced arguments whose
// smallest nonzero magnitude is about 2^-144 (r in `expf` of the smallest subnormal), so in
// `expf` and `logf` ea + eb >= -310. In `exp`, |r| >= 2^-55 when nonzero (|x| >= 2^-54 there)
// and the final `scale * tmp` has scale >= 2^-739 (|x| < 512 on that path) and tmp either 0 or
// far above 2^-200, so ea + eb > -940. The largest operand is the rounding shift 1.5 * 2^52, far
// from overflow. Signed zeros are not tracked (an exact zero may come back as +0 where IEEE gives
// -0); no call site can observe the sign of a zero it produces.
//
// Which fusions are observable (measured against the host, for the record; every one the
// reference makes is reproduced regardless): in `expf` only r = x * 32/ln2 - k, on 2 of the
// 2^32 inputs; in `logf` none; in `exp` the final `scale * tmp + scale` (about 0.07% of inputs)
// and, rarely, the polynomial step `c23 * r2 + (tail + r)`. The unit tests pin those cases.
// ---------------------------------------------------------------------------------------------

/// 2^27 + 1: multiplying by it splits a double into two 26-bit halves (Veltkamp).
const SPLITTER: f64 = 134_217_729.0;

/// Splits `a` into `(hi, lo)` with `hi + lo == a` and each part at most 26 significant bits.
#[inline(always)]
fn split(a: f64) -> (f64, f64) {
    let t = SPLITTER * a;
    let hi = t - (t - a);
    (hi, a - hi)
}

/// `(p, e)` with `p = RN(a * b)` and `p + e == a * b` exactly (Dekker).
#[inline(always)]
fn two_product(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    let (a_hi, a_lo) = split(a);
    let (b_hi, b_lo) = split(b);
    let e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo;
    (p, e)
}

/// `(s, e)` with `s = RN(a + b)` and `s + e == a + b` exactly (Knuth; no ordering needed).
#[inline(always)]
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let b_virtual = s - a;
    let a_virtual = s - b_virtual;
    (s, (a - a_virtual) + (b - b_virtual))
}

/// `a + b` rounded to odd: exact sums are returned as is, otherwise the one of the two doubles
/// around the sum whose last significand bit is 1.
#[inline(always)]
fn add_round_to_odd(a: f64, b: f64) -> f64 {
    let (s, e) = two_sum(a, b);
    let bits = s.to_bits();
    // Branch-free (the branches would be unpredictable): when inexact, truncate towards zero
    // (step s down one unit in magnitude when the error points towards zero, i.e. e and s have
    // opposite signs) and then set the last bit. s is nonzero whenever e is (a sum that rounds
    // to zero is exact), and stepping down from a power of two gives the all-ones significand
    // below it, which is exactly the truncation.
    let inexact = u64::from(e != 0.0);
    let towards_zero = (e.to_bits() ^ bits) >> 63;
    f64::from_bits(bits.wrapping_sub(inexact & towards_zero) | inexact)
}

/// `a * b + c` with a single rounding to nearest, for the operand ranges described above.
#[inline(always)]
fn fma(a: f64, b: f64, c: f64) -> f64 {
    let (p_hi, p_lo) = two_product(a, b);
    let (s_hi, s_lo) = two_sum(c, p_hi);
    s_hi + add_round_to_odd(s_lo, p_lo)
}

// ---------------------------------------------------------------------------------------------
// Constants.
// ---------------------------------------------------------------------------------------------

/// 1.5 * 2^52. For |z| < 2^51, `z + SHIFT` rounds z to the nearest integer (ties to even) and
/// leaves that integer in the low significand bits; subtracting SHIFT again gives it as a double.
const SHIFT: f64 = f64::from_bits(0x4338_0000_0000_0000);

/// `expf` polynomial: 2^(r/32) ~= 1 + C2 r + C1 r^2 + C0 r^3 for |r| <= 1/2. These are the minimax
/// coefficients of the reference implementation (for 2^t, t in [-1/64, 1/64]), divided exactly
/// by 32^3, 32^2 and 32; they must be these exact doubles for bit-exact results.
const EXPF_C0: f64 = f64::from_bits(0x3EBC_6AF8_4B91_2394);
/// See [`EXPF_C0`].
const EXPF_C1: f64 = f64::from_bits(0x3F2E_BFCE_50FA_C4F3);
/// See [`EXPF_C0`].
const EXPF_C2: f64 = f64::from_bits(0x3F96_2E42_FF0C_52D6);

/// Bits of the largest `f32` whose `expf` is finite, about 88.72284 (ln 2^128 rounded down).
const EXPF_OVERFLOW_BITS: u32 = 0x42B1_7217;
/// Bits of the `f32` below which `expf` is 0, about -103.97208 (ln 2^-150).
const EXPF_UNDERFLOW_BITS: u32 = 0xC2CF_F1B4;
/// Bits of the `f32` below which `expf` is the smallest subnormal, about -103.27893 (ln 2^-149).
/// The reference returns 2^-149 directly there instead of running the polynomial.
const EXPF_TINY_BITS: u32 = 0xC2CE_8ECF;

/// `logf` polynomial: log1p(r) ~= r + A2 r^2 + A1 r^3 + A0 r^4. These are the minimax coefficients
/// of the reference implementation; they must be these exact doubles for bit-exact results.
const LOGF_A0: f64 = f64::from_bits(0xBFD0_0EA3_48B8_8334);
/// See [`LOGF_A0`].
const LOGF_A1: f64 = f64::from_bits(0x3FD5_575B_0BE0_0B6A);
/// See [`LOGF_A0`].
const LOGF_A2: f64 = f64::from_bits(0xBFDF_FFFE_F20A_4123);
/// Bits of 0.69921875 (0x3F330000): `logf` reduces x to 2^k z with z in [OFF, 2 OFF).
const LOGF_OFF: u32 = 0x3F33_0000;

/// `exp` polynomial: exp(r) - 1 ~= r + C2 r^2 + C3 r^3 + C4 r^4 + C5 r^5 for |r| <= ln2/256.
/// These are the minimax coefficients of the reference implementation; they must be these exact
/// doubles for bit-exact results.
const EXP_C2: f64 = f64::from_bits(0x3FDF_FFFF_FFFF_FDBD);
/// See [`EXP_C2`].
const EXP_C3: f64 = f64::from_bits(0x3FC5_5555_5555_543C);
/// See [`EXP_C2`].
const EXP_C4: f64 = f64::from_bits(0x3FA5_5555_CF17_2B91);
/// See [`EXP_C2`].
const EXP_C5: f64 = f64::from_bits(0x3F81_1111_67A4_D017);
/// 2^1009, rescales results whose scale exponent was lowered to avoid overflow.
const TWO_POW_1009: f64 = f64::from_bits(0x7F00_0000_0000_0000);
/// 2^-1022, rescales results that may land in the subnormal range.
const TWO_POW_NEG_1022: f64 = f64::from_bits(0x0010_0000_0000_0000);

// BEGIN GENERATED by engine/tools/gen_math_tables.py; do not edit by hand.
/// 1/ln 2 rounded to f64, times 32 (exact scaling): used by `expf`.
const INV_LN2_X32: f64 = f64::from_bits(0x40471547652B82FE);
/// 1/ln 2 rounded to f64, times 128 (exact scaling): used by `exp`.
const INV_LN2_X128: f64 = f64::from_bits(0x40671547652B82FE);
/// -ln 2 / 128, leading 37 significant bits.
const NEG_LN2_HI_128: f64 = f64::from_bits(0xBF762E42FEFA0000);
/// -(ln 2 / 128 - high part) rounded to f64.
const NEG_LN2_LO_128: f64 = f64::from_bits(0xBD0CF79ABC9E3B3A);
/// ln 2 rounded to f64.
const LN2: f64 = f64::from_bits(0x3FE62E42FEFA39EF);

/// `EXPF_TABLE[i]` = bits of 2^(i/32) rounded to f64, minus `i << 47`, so that
/// adding `k << 47` (k = 32q + i) puts q into the exponent field.
const EXPF_TABLE: [u64; 32] = [
    0x3FF0000000000000,
    0x3FEFD9B0D3158574,
    0x3FEFB5586CF9890F,
    0x3FEF9301D0125B51,
    0x3FEF72B83C7D517B,
    0x3FEF54873168B9AA,
    0x3FEF387A6E756238,
    0x3FEF1E9DF51FDEE1,
    0x3FEF06FE0A31B715,
    0x3FEEF1A7373AA9CB,
    0x3FEEDEA64C123422,
    0x3FEECE086061892D,
    0x3FEEBFDAD5362A27,
    0x3FEEB42B569D4F82,
    0x3FEEAB07DD485429,
    0x3FEEA47EB03A5585,
    0x3FEEA09E667F3BCD,
    0x3FEE9F75E8EC5F74,
    0x3FEEA11473EB0187,
    0x3FEEA589994CCE13,
    0x3FEEACE5422AA0DB,
    0x3FEEB737B0CDC5E5,
    0x3FEEC49182A3F090,
    0x3FEED503B23E255D,
    0x3FEEE89F995AD3AD,
    0x3FEEFF76F2FB5E47,
    0x3FEF199BDD85529C,
    0x3FEF3720DCEF9069,
    0x3FEF5818DCFBA487,
    0x3FEF7C97337B9B5F,
    0x3FEFA4AFA2A490DA,
    0x3FEFD0765B6E4540,
];

/// `EXP_TABLE[i]` = (bits of tail, bits of scale minus `i << 45`) where scale is
/// 2^(i/128) rounded to f64 and tail is 2^(i/128)/scale - 1 rounded to f64.
const EXP_TABLE: [(u64, u64); 128] = [
    (0x0000000000000000, 0x3FF0000000000000),
    (0x3C9B3B4F1A88BF6E, 0x3FEFF63DA9FB3335),
    (0xBC7160139CD8DC5D, 0x3FEFEC9A3E778061),
    (0xBC905E7A108766D1, 0x3FEFE315E86E7F85),
    (0x3C8CD2523567F613, 0x3FEFD9B0D3158574),
    (0xBC8BCE8023F98EFA, 0x3FEFD06B29DDF6DE),
    (0x3C60F74E61E6C861, 0x3FEFC74518759BC8),
    (0x3C90A3E45B33D399, 0x3FEFBE3ECAC6F383),
    (0x3C979AA65D837B6D, 0x3FEFB5586CF9890F),
    (0x3C8EB51A92FDEFFC, 0x3FEFAC922B7247F7),
    (0x3C3EBE3D702F9CD1, 0x3FEFA3EC32D3D1A2),
    (0xBC6A033489906E0B, 0x3FEF9B66AFFED31B),
    (0xBC9556522A2FBD0E, 0x3FEF9301D0125B51),
    (0xBC5080EF8C4EEA55, 0x3FEF8ABDC06C31CC),
    (0xBC91C923B9D5F416, 0x3FEF829AAEA92DE0),
    (0x3C80D3E3E95C55AF, 0x3FEF7A98C8A58E51),
    (0xBC801B15EAA59348, 0x3FEF72B83C7D517B),
    (0xBC8F1FF055DE323D, 0x3FEF6AF9388C8DEA),
    (0x3C8B898C3F1353BF, 0x3FEF635BEB6FCB75),
    (0xBC96D99C7611EB26, 0x3FEF5BE084045CD4),
    (0x3C9AECF73E3A2F60, 0x3FEF54873168B9AA),
    (0xBC8FE782CB86389D, 0x3FEF4D5022FCD91D),
    (0x3C8A6F4144A6C38D, 0x3FEF463B88628CD6),
    (0x3C807A05B0E4047D, 0x3FEF3F49917DDC96),
    (0x3C968EFDE3A8A894, 0x3FEF387A6E756238),
    (0x3C875E18F274487D, 0x3FEF31CE4FB2A63F),
    (0x3C80472B981FE7F2, 0x3FEF2B4565E27CDD),
    (0xBC96B87B3F71085E, 0x3FEF24DFE1F56381),
    (0x3C82F7E16D09AB31, 0x3FEF1E9DF51FDEE1),
    (0xBC3D219B1A6FBFFA, 0x3FEF187FD0DAD990),
    (0x3C8B3782720C0AB4, 0x3FEF1285A6E4030B),
    (0x3C6E149289CECB8F, 0x3FEF0CAFA93E2F56),
    (0x3C834D754DB0ABB6, 0x3FEF06FE0A31B715),
    (0x3C864201E2AC744C, 0x3FEF0170FC4CD831),
    (0x3C8FDD395DD3F84A, 0x3FEEFC08B26416FF),
    (0xBC86A3803B8E5B04, 0x3FEEF6C55F929FF1),
    (0xBC924AEDCC4B5068, 0x3FEEF1A7373AA9CB),
    (0xBC9907F81B512D8E, 0x3FEEECAE6D05D866),
    (0xBC71D1E83E9436D2, 0x3FEEE7DB34E59FF7),
    (0xBC991919B3CE1B15, 0x3FEEE32DC313A8E5),
    (0x3C859F48A72A4C6D, 0x3FEEDEA64C123422),
    (0xBC9312607A28698A, 0x3FEEDA4504AC801C),
    (0xBC58A78F4817895B, 0x3FEED60A21F72E2A),
    (0xBC7C2C9B67499A1B, 0x3FEED1F5D950A897),
    (0x3C4363ED60C2AC11, 0x3FEECE086061892D),
    (0x3C9666093B0664EF, 0x3FEECA41ED1D0057),
    (0x3C6ECCE1DAA10379, 0x3FEEC6A2B5C13CD0),
    (0x3C93FF8E3F0F1230, 0x3FEEC32AF0D7D3DE),
    (0x3C7690CEBB7AAFB0, 0x3FEEBFDAD5362A27),
    (0x3C931DBDEB54E077, 0x3FEEBCB299FDDD0D),
    (0xBC8F94340071A38E, 0x3FEEB9B2769D2CA7),
    (0xBC87DECCDC93A349, 0x3FEEB6DAA2CF6642),
    (0xBC78DEC6BD0F385F, 0x3FEEB42B569D4F82),
    (0xBC861246EC7B5CF6, 0x3FEEB1A4CA5D920F),
    (0x3C93350518FDD78E, 0x3FEEAF4736B527DA),
    (0x3C7B98B72F8A9B05, 0x3FEEAD12D497C7FD),
    (0x3C9063E1E21C5409, 0x3FEEAB07DD485429),
    (0x3C34C7855019C6EA, 0x3FEEA9268A5946B7),
    (0x3C9432E62B64C035, 0x3FEEA76F15AD2148),
    (0xBC8CE44A6199769F, 0x3FEEA5E1B976DC09),
    (0xBC8C33C53BEF4DA8, 0x3FEEA47EB03A5585),
    (0xBC845378892BE9AE, 0x3FEEA34634CCC320),
    (0xBC93CEDD78565858, 0x3FEEA23882552225),
    (0x3C5710AA807E1964, 0x3FEEA155D44CA973),
    (0xBC93B3EFBF5E2228, 0x3FEEA09E667F3BCD),
    (0xBC6A12AD8734B982, 0x3FEEA012750BDABF),
    (0xBC6367EFB86DA9EE, 0x3FEE9FB23C651A2F),
    (0xBC80DC3D54E08851, 0x3FEE9F7DF9519484),
    (0xBC781F647E5A3ECF, 0x3FEE9F75E8EC5F74),
    (0xBC86EE4AC08B7DB0, 0x3FEE9F9A48A58174),
    (0xBC8619321E55E68A, 0x3FEE9FEB564267C9),
    (0x3C909CCB5E09D4D3, 0x3FEEA0694FDE5D3F),
    (0xBC7B32DCB94DA51D, 0x3FEEA11473EB0187),
    (0x3C94ECFD5467C06B, 0x3FEEA1ED0130C132),
    (0x3C65EBE1ABD66C55, 0x3FEEA2F336CF4E62),
    (0xBC88A1C52FB3CF42, 0x3FEEA427543E1A12),
    (0xBC9369B6F13B3734, 0x3FEEA589994CCE13),
    (0xBC805E843A19FF1E, 0x3FEEA71A4623C7AD),
    (0xBC94D450D872576E, 0x3FEEA8D99B4492ED),
    (0x3C90AD675B0E8A00, 0x3FEEAAC7D98A6699),
    (0x3C8DB72FC1F0EAB4, 0x3FEEACE5422AA0DB),
    (0xBC65B6609CC5E7FF, 0x3FEEAF3216B5448C),
    (0x3C7BF68359F35F44, 0x3FEEB1AE99157736),
    (0xBC93091FA71E3D83, 0x3FEEB45B0B91FFC6),
    (0xBC5DA9B88B6C1E29, 0x3FEEB737B0CDC5E5),
    (0xBC6C23F97C90B959, 0x3FEEBA44CBC8520F),
    (0xBC92434322F4F9AA, 0x3FEEBD829FDE4E50),
    (0xBC85CA6CD7668E4B, 0x3FEEC0F170CA07BA),
    (0x3C71AFFC2B91CE27, 0x3FEEC49182A3F090),
    (0x3C6DD235E10A73BB, 0x3FEEC86319E32323),
    (0xBC87C50422622263, 0x3FEECC667B5DE565),
    (0x3C8B1C86E3E231D5, 0x3FEED09BEC4A2D33),
    (0xBC91BBD1D3BCBB15, 0x3FEED503B23E255D),
    (0x3C90CC319CEE31D2, 0x3FEED99E1330B358),
    (0x3C8469846E735AB3, 0x3FEEDE6B5579FDBF),
    (0xBC82DFCD978E9DB4, 0x3FEEE36BBFD3F37A),
    (0x3C8C1A7792CB3387, 0x3FEEE89F995AD3AD),
    (0xBC907B8F4AD1D9FA, 0x3FEEEE07298DB666),
    (0xBC55C3D956DCAEBA, 0x3FEEF3A2B84F15FB),
    (0xBC90A40E3DA6F640, 0x3FEEF9728DE5593A),
    (0xBC68D6F438AD9334, 0x3FEEFF76F2FB5E47),
    (0xBC91EEE26B588A35, 0x3FEF05B030A1064A),
    (0x3C74FFD70A5FDDCD, 0x3FEF0C1E904BC1D2),
    (0xBC91BDFBFA9298AC, 0x3FEF12C25BD71E09),
    (0x3C736EAE30AF0CB3, 0x3FEF199BDD85529C),
    (0x3C8EE3325C9FFD94, 0x3FEF20AB5FFFD07A),
    (0x3C84E08FD10959AC, 0x3FEF27F12E57D14B),
    (0x3C63CDAF384E1A67, 0x3FEF2F6D9406E7B5),
    (0x3C676B2C6C921968, 0x3FEF3720DCEF9069),
    (0xBC808A1883CCB5D2, 0x3FEF3F0B555DC3FA),
    (0xBC8FAD5D3FFFFA6F, 0x3FEF472D4A07897C),
    (0xBC900DAE3875A949, 0x3FEF4F87080D89F2),
    (0x3C74A385A63D07A7, 0x3FEF5818DCFBA487),
    (0xBC82919E2040220F, 0x3FEF60E316C98398),
    (0x3C8E5A50D5C192AC, 0x3FEF69E603DB3285),
    (0x3C843A59AC016B4B, 0x3FEF7321F301B460),
    (0xBC82D52107B43E1F, 0x3FEF7C97337B9B5F),
    (0xBC892AB93B470DC9, 0x3FEF864614F5A129),
    (0x3C74B604603A88D3, 0x3FEF902EE78B3FF6),
    (0x3C83C5EC519D7271, 0x3FEF9A51FBC74C83),
    (0xBC8FF7128FD391F0, 0x3FEFA4AFA2A490DA),
    (0xBC8DAE98E223747D, 0x3FEFAF482D8E67F1),
    (0x3C8EC3BC41AA2008, 0x3FEFBA1BEE615A27),
    (0x3C842B94C3A9EB32, 0x3FEFC52B376BBA97),
    (0x3C8A64A931D185EE, 0x3FEFD0765B6E4540),
    (0xBC8E37BAE43BE3ED, 0x3FEFDBFDAD9CBE14),
    (0x3C77893B4D91CD9D, 0x3FEFE7C1819E90D8),
    (0x3C5305C14160CC89, 0x3FEFF3C22B8F71F1),
];

/// `LOGF_TABLE[i]` = (1/c, ln c) for the point c of subinterval i. 1/c is the
/// reference implementation's choice; ln c = -ln(1/c) rounded to f64.
const LOGF_TABLE: [(u64, u64); 16] = [
    (0x3FF661EC79F8F3BE, 0xBFD57BF7808CAADE),
    (0x3FF571ED4AAF883D, 0xBFD2BEF0A7C06DDB),
    (0x3FF49539F0F010B0, 0xBFD01EAE7F513A67),
    (0x3FF3C995B0B80385, 0xBFCB31D8A68224E9),
    (0x3FF30D190C8864A5, 0xBFC6574F0AC07758),
    (0x3FF25E227B0B8EA0, 0xBFC1AA2BC79C8100),
    (0x3FF1BB4A4A1A343F, 0xBFBA4E76CE8C0E5E),
    (0x3FF12358F08AE5BA, 0xBFB1973C5A611CCC),
    (0x3FF0953F419900A7, 0xBFA252F438E10C1E),
    (0x3FF0000000000000, 0x0000000000000000),
    (0x3FEE608CFD9A47AC, 0x3FAAA5AA5DF25984),
    (0x3FECA4B31F026AA0, 0x3FBC5E53AA362EB4),
    (0x3FEB2036576AFCE6, 0x3FC526E57720DB08),
    (0x3FE9C2D163A1AA2D, 0x3FCBC2860D224770),
    (0x3FE886E6037841ED, 0x3FD1058BC8A07EE1),
    (0x3FE767DCF5534862, 0x3FD4043057B6EE09),
];
// END GENERATED

// ---------------------------------------------------------------------------------------------
// expf
// ---------------------------------------------------------------------------------------------

/// e^x in single precision, bit-identical to glibc 2.36 `expf` on x86_64 with FMA for every
/// input (NaN in, NaN out; the payload is not pinned).
///
/// Runs [`expf_fast`], which is integer-only and decides almost every input, and falls back to
/// [`expf_exact`] (the reference's own `f64` computation) for the few it leaves open.
pub fn expf(x: f32) -> f32 {
    match expf_fast(x) {
        Some(y) => y,
        None => expf_exact(x),
    }
}

/// The reference algorithm itself: glibc's `expf`, step for step in `f64` with the emulated
/// fused multiply-adds. Bit-identical to [`expf`]; slow where `f64` is soft-float (about 17,000
/// instructions on a Cortex-M4F). Public so that the exhaustive test can pin [`expf_fast`] to it.
///
/// x * 32/ln2 is split as k + r with integer k and |r| <= 1/2, then e^x = 2^(k/32) * 2^(r/32):
/// the first factor comes from a 32-entry table with the exponent added in, the second from a
/// cubic, all in `f64`, rounded once to `f32` at the end.
pub fn expf_exact(x: f32) -> f32 {
    let bits = x.to_bits();
    let abs_top = (bits >> 20) & 0x7FF;
    // 0x42B is the top of 88.0: from there on the result may overflow or underflow.
    if abs_top >= 0x42B {
        if bits == f32::NEG_INFINITY.to_bits() {
            return 0.0;
        }
        if abs_top >= 0x7F8 {
            return x + x; // +inf, or NaN (quieted)
        }
        if x > f32::from_bits(EXPF_OVERFLOW_BITS) {
            return f32::INFINITY;
        }
        if x < f32::from_bits(EXPF_UNDERFLOW_BITS) {
            return 0.0;
        }
        if x < f32::from_bits(EXPF_TINY_BITS) {
            return f32::from_bits(1);
        }
    }
    let xd = f64::from(x);
    // k = round(x * 32/ln2) both as a double and, in the low bits of `k_shifted`, as an integer.
    let k_shifted = fma(INV_LN2_X32, xd, SHIFT);
    let ki = k_shifted.to_bits();
    let kd = k_shifted - SHIFT;
    let r = fma(INV_LN2_X32, xd, -kd);
    // 2^(k/32): table entry for k mod 32, k / 32 added to the exponent field.
    let entry = EXPF_TABLE.get((ki & 31) as usize).copied().unwrap_or(0);
    let scale = f64::from_bits(entry.wrapping_add(ki << 47));
    let odd = fma(EXPF_C0, r, EXPF_C1);
    let r2 = r * r;
    let even = fma(EXPF_C2, r, 1.0);
    let poly = fma(odd, r2, even);
    (poly * scale) as f32
}

// ---------------------------------------------------------------------------------------------
// expf, fast path
//
// `expf_exact` returns RN32(Y), where Y is the double the reference computes:
//
//   t = x * C (C = INV_LN2_X32, the double), k = round-half-even(t), r_ref = RN64(t - k),
//   Y = RN64(T_i * poly), poly = the fused Horner evaluation of P(r) = 1 + C2 r + C1 r^2 + C0 r^3,
//   T_i = 2^(i/32) rounded to f64 (i = k mod 32), scaled by 2^q (q = floor(k / 32)).
//
// `expf_fast` evaluates the same mathematical expression, T_i * P(r) with the same constants,
// in 64-bit fixed point, and only answers when that is provably enough to know RN32(Y).
// Let V = Y / 2^q, which lies in [2^(-1/64), 2^(63/64)) ⊂ [0.98, 2), and F our value of it.
//
// Error of the reference against the ideal V* = T_i * P(r_ref) (each RN64 is at most half an
// ulp): odd = RN(C0 r + C1) is off by <= 2^-66 (|odd| < 2^-12), r2 = RN(r r) by <= 2^-56
// (r2 <= 1/4), even = RN(C2 r + 1) by <= 2^-53, poly = RN(odd r2 + even) by <= 2^-53 more, so
// |poly - P(r_ref)| <= 2^-52 + 2^-66; then |Y/2^q - T_i poly| <= 2^-53 (Y/2^q < 2) and T_i < 2,
// hence |V - V*| <= 2^-51 + 2^-53 + 2^-64 < 1.3 * 2^-51.
//
// Error of ours: t is computed exactly as an integer product and truncated to 2^-50, so our r is
// within 2^-49 of t - k, and r_ref within 2^-54 of it; |P'| < 0.022 on |r| <= 1/2 and T_i < 2,
// which moves T_i P by < 2^-53.4. The fixed-point Horner steps truncate (each product to its
// last bit, each alignment shift likewise): < 2^-62 on P, < 2^-60 on F with T_i's truncation-
// free 64-bit significand. So |F - V| < 1.3 * 2^-51 + 2^-53.4 + 2^-60 < 2^-50.
//
// Decision: if F is farther than 2^-48 (EXPF_FAST_TOLERANCE, four times the bound) from every
// rounding boundary of the f32 grid at its scale (the midpoints between f32 values, normal or
// subnormal), then Y lies strictly on the same side of the same boundaries, so RN32(Y) =
// RN32(F) whatever the tie rule. Also k must be the reference's k: t is known to within 2^-49,
// so t within 2^-47 of a half-integer is left open too. Everything else returns None, and the
// exact emulation decides. `tests/tests/math_exhaustive.rs` checks all 2^32 inputs and counts
// the open ones.
// ---------------------------------------------------------------------------------------------

/// Significand of a normal double as an integer in [2^52, 2^53).
const fn significand(bits: u64) -> u64 {
    (bits & 0x000F_FFFF_FFFF_FFFF) | 0x0010_0000_0000_0000
}

/// C = 32/ln2 (the double `INV_LN2_X32`, in [32, 64)) is `EXPF_FIX_C * 2^-47`; split in 32-bit
/// halves so that x's 24-bit significand times C is two 32x32 -> 64 products.
const EXPF_FIX_C_HI: u64 = significand(INV_LN2_X32.to_bits()) >> 32;
/// See [`EXPF_FIX_C_HI`].
const EXPF_FIX_C_LO: u64 = significand(INV_LN2_X32.to_bits()) & 0xFFFF_FFFF;
/// C0 (in [2^-20, 2^-19)) * 2^82, exact.
const EXPF_FIX_C0: u64 = significand(EXPF_C0.to_bits()) << 10;
/// C1 (in [2^-13, 2^-12)) * 2^75, exact.
const EXPF_FIX_C1: u64 = significand(EXPF_C1.to_bits()) << 10;
/// C2 (in [2^-6, 2^-5)) * 2^68, exact.
const EXPF_FIX_C2: u64 = significand(EXPF_C2.to_bits()) << 10;
/// Fractional bits of t = x * 32/ln2 in the fixed-point reduction.
const EXPF_FIX_T_BITS: u32 = 50;
/// How close (in units of 2^-50) t may come to a half-integer before k is left open.
const EXPF_FIX_TIE_MARGIN: u64 = 8;
/// How close (in units of 2^-62 of V) F may come to a rounding boundary before it is left open:
/// 2^-48, four times the error bound argued above.
const EXPF_FAST_TOLERANCE: u64 = 1 << 14;

/// floor(a * b / 2^64).
#[inline(always)]
fn mul_hi(a: u64, b: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) >> 64) as u64
}

/// `base + delta` if `negative` is false, else `base - delta` (callers keep it in range).
#[inline(always)]
fn add_signed(base: u64, delta: u64, negative: bool) -> u64 {
    if negative {
        base.wrapping_sub(delta)
    } else {
        base.wrapping_add(delta)
    }
}

/// [`expf`] in integer arithmetic: `Some` result, always the bits of [`expf_exact`], or `None`
/// when the cheap evaluation cannot prove which way the reference rounds (near a rounding
/// boundary, near a tie in the argument reduction, or outside the ordinary range). The error
/// argument is in the comment above this function in the source; the exhaustive test checks it.
pub fn expf_fast(x: f32) -> Option<f32> {
    let bits = x.to_bits();
    let biased = (bits >> 23) & 0xFF;
    // |x| >= 88 (the reference's special cases live there) or NaN/inf: leave to the exact path,
    // except the ordinary part below 104, handled here like any other input.
    if biased >= 0x85 {
        if (bits & 0x7FFF_FFFF) > EXPF_OVERFLOW_BITS && bits >> 31 == 0 {
            return None;
        }
        if bits >> 31 != 0 && bits >= EXPF_TINY_BITS {
            return None;
        }
    }
    if biased >= 0x86 {
        return None; // |x| >= 128, infinite or NaN: all special cases above.
    }
    let negative = bits >> 31 != 0;
    // |x| = m * 2^(e - 150), m < 2^24 (subnormal x: e = 1 without the implicit bit).
    let (m, e) = if biased == 0 {
        (u64::from(bits & 0x007F_FFFF), 1)
    } else {
        (u64::from((bits & 0x007F_FFFF) | 0x0080_0000), biased)
    };
    // |t| * 2^50 = m * C_sig * 2^(e - 150 - 47 + 50) = (hi * 2^32 + lo) >> (147 - e), e <= 133.
    let hi = m * EXPF_FIX_C_HI;
    let lo = m * EXPF_FIX_C_LO;
    let shift = 147 - e; // >= 14
    let t_fix = if shift <= 32 {
        (hi << (32 - shift)) + (lo >> shift)
    } else if shift < 64 {
        (hi >> (shift - 32)) + (lo >> shift)
    } else if shift < 96 {
        hi >> (shift - 32)
    } else {
        0
    };
    // t_fix <= |t| 2^50 < t_fix + 2. k = round(|t|), r = |t| - k.
    let half = 1_u64 << (EXPF_FIX_T_BITS - 1);
    let frac = t_fix & ((1 << EXPF_FIX_T_BITS) - 1);
    if frac.abs_diff(half) <= EXPF_FIX_TIE_MARGIN {
        return None;
    }
    let k_abs = (t_fix + half) >> EXPF_FIX_T_BITS;
    // r as sign and magnitude in units of 2^-62, |r| <= 1/2.
    let r_up = frac >= half; // k rounded up: r = frac - 1 < 0 (for positive x)
    let r_mag = if r_up {
        (1 << EXPF_FIX_T_BITS) - frac
    } else {
        frac
    } << 12;
    let r_negative = r_up != negative;
    let k = if negative {
        -(k_abs as i64)
    } else {
        k_abs as i64
    };
    // P(r) = 1 + r (C2 + r (C1 + r C0)) with the reference's coefficients; the brackets stay
    // positive, so only the products with r carry r's sign.
    let a = mul_hi(EXPF_FIX_C0, r_mag); // C0 |r|, 2^-80
    let b = add_signed(EXPF_FIX_C1, a >> 5, r_negative); // 2^-75
    let c = mul_hi(b, r_mag); // 2^-73
    let d = add_signed(EXPF_FIX_C2, c >> 5, r_negative); // 2^-68
    let e_term = mul_hi(d, r_mag); // 2^-66
    let p = add_signed(1 << 63, e_term >> 3, r_negative); // P, 2^-63, < 2^64
                                                          // T_i = 2^(i/32) as the reference's double: exponent 0, significand from the table.
    let i = (k & 31) as u64;
    let entry = EXPF_TABLE.get(i as usize).copied().unwrap_or(0);
    let t_sig = significand(entry.wrapping_add(i << 47)) << 11; // T_i, 2^-63
    let v = mul_hi(t_sig, p); // F = T_i P, 2^-62, in [2^61, 2^63)
                              // Result 2^q F, q = floor(k / 32): biased f32 exponent and how many low bits of v to drop.
    let q = k >> 5;
    let top = v >> 62; // 1 when F >= 1
    let exponent = q + 126 + top as i64;
    let drop_normal = 38 + top as i64;
    let (exponent, drop) = if exponent >= 1 {
        (exponent, drop_normal)
    } else {
        (1, drop_normal + 1 - exponent) // subnormal: the grid is 2^-149 throughout
    };
    if !(1..=254).contains(&exponent) || drop > 62 {
        return None;
    }
    let drop = drop as u32;
    let rest = v & ((1 << drop) - 1);
    let midpoint = 1_u64 << (drop - 1);
    if rest.abs_diff(midpoint) <= EXPF_FAST_TOLERANCE {
        return None;
    }
    let significand_bits = (v >> drop) + u64::from(rest > midpoint);
    let result = (((exponent - 1) as u64) << 23) + significand_bits;
    Some(f32::from_bits(result as u32))
}

// ---------------------------------------------------------------------------------------------
// logf
// ---------------------------------------------------------------------------------------------

/// Natural logarithm in single precision, bit-identical to glibc 2.36 `logf` on x86_64 with FMA
/// for every input: -inf for ±0, NaN for negative inputs and NaN, +inf for +inf.
///
/// x = 2^k z with z in [0.699, 1.398); the interval is cut in 16 pieces, each with a point c
/// whose 1/c and ln c are tabulated, so ln x = k ln2 + ln c + log1p(z/c - 1), the last term by a
/// quartic in `f64`, rounded once to `f32` at the end.
pub fn logf(x: f32) -> f32 {
    let mut ix = x.to_bits();
    if ix == 0x3F80_0000 {
        return 0.0;
    }
    // Zero, subnormal, negative, infinite or NaN.
    if ix.wrapping_sub(0x0080_0000) >= 0x7F80_0000 - 0x0080_0000 {
        if ix << 1 == 0 {
            return f32::NEG_INFINITY;
        }
        if ix == 0x7F80_0000 {
            return x;
        }
        if ix & 0x8000_0000 != 0 || ix << 1 >= 0xFF00_0000 {
            // Negative or NaN. The reference's (x - x) / (x - x) has NaN inputs pass through
            // quieted and gives the default NaN otherwise; only NaN-ness is pinned here.
            return if x.is_nan() { x + x } else { f32::NAN };
        }
        // Positive subnormal: scale by 2^23 (exact) and take 23 back off the exponent.
        ix = (x * 8_388_608.0).to_bits().wrapping_sub(23 << 23);
    }
    let tmp = ix.wrapping_sub(LOGF_OFF);
    let index = (tmp >> 19) & 15;
    let k = (tmp as i32) >> 23;
    let iz = ix.wrapping_sub(tmp & 0xFF80_0000);
    let (invc_bits, logc_bits) = LOGF_TABLE
        .get(index as usize)
        .copied()
        .unwrap_or((0x3FF0_0000_0000_0000, 0));
    let invc = f64::from_bits(invc_bits);
    let logc = f64::from_bits(logc_bits);
    let z = f64::from(f32::from_bits(iz));
    let r = fma(z, invc, -1.0);
    let y0 = fma(f64::from(k), LN2, logc);
    let r2 = r * r;
    let y = fma(LOGF_A1, r, LOGF_A2);
    let y = fma(LOGF_A0, r2, y);
    let y = fma(y, r2, r + y0);
    y as f32
}

// ---------------------------------------------------------------------------------------------
// exp
// ---------------------------------------------------------------------------------------------

/// e^x in double precision, bit-identical to glibc 2.36 `exp` on x86_64 with FMA (checked on
/// random and swept inputs, not exhaustively), including subnormal results; NaN in, NaN out.
///
/// x = k ln2/128 + r with |r| <= ln2/256, e^x = 2^(k/128) e^r; 2^(k/128) is a 128-entry table of
/// (scale, tail) pairs with the exponent added in, e^r - 1 a degree-5 polynomial.
pub fn exp(x: f64) -> f64 {
    let bits = x.to_bits();
    let abs_top = ((bits >> 52) & 0x7FF) as u32;
    // 0x3C9 is the top of 2^-54, 0x3C9 + 0x3F the top of 512.
    let mut near_limits = false;
    if abs_top.wrapping_sub(0x3C9) >= 0x3F {
        if abs_top.wrapping_sub(0x3C9) >= 0x8000_0000 {
            return 1.0 + x; // |x| < 2^-54
        }
        if abs_top >= 0x409 {
            // |x| >= 1024, infinite or NaN.
            if bits == f64::NEG_INFINITY.to_bits() {
                return 0.0;
            }
            if abs_top >= 0x7FF {
                return 1.0 + x;
            }
            return if bits >> 63 != 0 { 0.0 } else { f64::INFINITY };
        }
        near_limits = true; // 512 <= |x| < 1024: the result may overflow or be subnormal.
    }
    let k_shifted = fma(INV_LN2_X128, x, SHIFT);
    let ki = k_shifted.to_bits();
    let kd = k_shifted - SHIFT;
    let r = fma(kd, NEG_LN2_LO_128, fma(kd, NEG_LN2_HI_128, x));
    let (tail_bits, scale_bits) = EXP_TABLE
        .get((ki & 127) as usize)
        .copied()
        .unwrap_or((0, 0));
    let tail = f64::from_bits(tail_bits);
    // Only a valid double when -1023*128 < k < 1024*128; `exp_near_limits` fixes it up otherwise.
    let scale_bits = scale_bits.wrapping_add(ki << 45);
    let r2 = r * r;
    let c23 = fma(EXP_C3, r, EXP_C2);
    let c45 = fma(EXP_C5, r, EXP_C4);
    let tmp = fma(r2 * r2, c45, fma(c23, r2, tail + r));
    if near_limits {
        return exp_near_limits(tmp, scale_bits, ki);
    }
    let scale = f64::from_bits(scale_bits);
    fma(scale, tmp, scale)
}

/// Finishes `exp` for 512 <= |x| < 1024, where `scale_bits` may have an out-of-range exponent:
/// shift the exponent into range, compute, and scale back; in the subnormal range round once at
/// the final precision (the 1 + y trick) so the result is not rounded twice.
fn exp_near_limits(tmp: f64, scale_bits: u64, ki: u64) -> f64 {
    if ki & 0x8000_0000 == 0 {
        // k > 0: the exponent may have overflowed by at most 460.
        let scale = f64::from_bits(scale_bits.wrapping_sub(1009 << 52));
        return fma(scale, tmp, scale) * TWO_POW_1009;
    }
    // k < 0: the result may be subnormal. The reference evaluates these two lines unfused.
    let scale = f64::from_bits(scale_bits.wrapping_add(1022 << 52));
    let scaled_tmp = scale * tmp;
    let mut y = scale + scaled_tmp;
    if y < 1.0 {
        let lo = (scale - y) + scaled_tmp;
        let hi = 1.0 + y;
        let lo = ((1.0 - hi) + y) + lo;
        y = (lo + hi) - 1.0;
        if y == 0.0 {
            y = 0.0; // never -0
        }
    }
    y * TWO_POW_NEG_1022
}

// ---------------------------------------------------------------------------------------------
// Output transforms.
// ---------------------------------------------------------------------------------------------

/// Where XGBoost clamps the argument of `expf` in its sigmoid (`88.7f`).
const XGBOOST_EXP_CLAMP: f32 = 88.7;
/// XGBoost's `float constexpr kEps = 1e-16;`: the double 1e-16 converted to float.
const XGBOOST_SIGMOID_EPS: f32 = 1e-16_f64 as f32;

/// XGBoost's `common::Sigmoid(float)` (src/common/math.h) as in XGBoost 1.6.0 and later,
/// including every 2.x and 3.x release: `1 / (expf(min(-m, 88.7f)) + 1 + 1e-16f)` in `f32`.
///
/// The clamp keeps very negative margins at about 3.0e-39 (a subnormal) instead of 0. `std::min`
/// returns its first argument when the comparison is false, so a NaN margin gives NaN. The
/// `1e-16f` never changes a sum that is already >= 1; it is kept to mirror the source.
/// For XGBoost 1.5.x and older use [`sigmoid_xgboost_legacy`].
pub fn sigmoid_xgboost(margin: f32) -> f32 {
    let negated = -margin;
    let x = if XGBOOST_EXP_CLAMP < negated {
        XGBOOST_EXP_CLAMP
    } else {
        negated
    };
    let denom = expf(x) + 1.0 + XGBOOST_SIGMOID_EPS;
    1.0 / denom
}

/// XGBoost's `common::Sigmoid(float)` up to and including 1.5.x: `1 / (1 + expf(-m))` in `f32`.
///
/// It equals [`sigmoid_xgboost`] for margins >= -88.7; below, it reaches exactly 0 once
/// `expf(-m)` overflows (m < -88.72284) where the newer form stays near 3.0e-39.
pub fn sigmoid_xgboost_legacy(margin: f32) -> f32 {
    1.0 / (1.0 + expf(-margin))
}

/// LightGBM's binary objective output transform (`BinaryLogloss::ConvertOutput`,
/// src/objective/binary_objective.hpp, unchanged since 2017): `1 / (1 + exp(-sigmoid * m))`
/// in `f64`, where `sigmoid` is the model's `sigmoid` parameter (1.0 unless configured).
pub fn sigmoid_lightgbm(margin: f64, sigmoid: f64) -> f64 {
    1.0 / (1.0 + exp(-sigmoid * margin))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    fn bits32(x: f32) -> u32 {
        x.to_bits()
    }

    /// xorshift64*, enough to spread test operands; no dependency needed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        /// A double with random significand and sign and an exponent in [lo, hi].
        fn double(&mut self, lo: i64, hi: i64) -> f64 {
            let r = self.next();
            let span = (hi - lo + 1) as u64;
            let e = lo + ((r >> 53) % span) as i64;
            let bits = ((e + 1023) as u64) << 52 | (r & ((1 << 52) - 1));
            let x = f64::from_bits(bits);
            if self.next() & 1 == 0 {
                x
            } else {
                -x
            }
        }
    }

    #[test]
    fn emulated_fma_matches_fused_hardware_result() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        // (exponent range of a, of b, of c): the ranges the call sites use, then the documented
        // limit ea + eb >= -970 (where `exp` multiplies a tiny scale by tmp).
        let ranges = [
            ((-150, 150), (-150, 150), (-300, 300)),
            ((-760, -500), (-210, 0), (-760, -480)),
        ];
        for ((a_lo, a_hi), (b_lo, b_hi), (c_lo, c_hi)) in ranges {
            for _ in 0..1_000_000 {
                let a = rng.double(a_lo, a_hi);
                let b = rng.double(b_lo, b_hi);
                // c near a*b (cancellation) half the time, anywhere in its range the other half.
                let c = if rng.next() & 1 == 0 {
                    let p = a * b;
                    p + rng.double(-200, 0) * p
                } else {
                    rng.double(c_lo, c_hi)
                };
                let want = a.mul_add(b, c);
                let got = fma(a, b, c);
                assert_eq!(got.to_bits(), want.to_bits(), "fma({a:e}, {b:e}, {c:e})");
            }
        }
    }

    #[test]
    fn emulated_fma_handles_exact_and_halfway_cases() {
        // a*b + c exactly representable, and a*b + c exactly halfway between two doubles.
        let eps = f64::EPSILON;
        let cases = [
            (1.0 + eps, 1.0 - eps, -1.0),
            (1.0 + eps, 1.0 + eps, 0.0),
            (1.0 + 2.0 * eps, 0.5, 0.5 * eps),
            (3.0, 5.0, -15.0),
            (0.0, 7.0, 2.0),
            (SHIFT, 1.0, -SHIFT),
            (1.0 + eps, 1.0 + eps, -(1.0 + 2.0 * eps)),
        ];
        for (a, b, c) in cases {
            assert_eq!(
                fma(a, b, c).to_bits(),
                a.mul_add(b, c).to_bits(),
                "fma({a:e}, {b:e}, {c:e})"
            );
        }
    }

    #[test]
    fn expf_fast_agrees_with_exact_on_a_sweep() {
        // Every 4099th bit pattern (about a million, all ranges); the exhaustive test in
        // tests/tests/math_exhaustive.rs covers all of them. Under miri (an interpreter, about
        // a thousand times slower) every 4,099,001st: about a thousand, still every range.
        let step = if cfg!(miri) { 4_099_001 } else { 4099 };
        let mut n_declined = 0_u32;
        let mut bits = 0_u32;
        loop {
            let x = f32::from_bits(bits);
            let exact = expf_exact(x);
            match expf_fast(x) {
                Some(fast) => assert_eq!(fast.to_bits(), exact.to_bits(), "expf_fast({bits:#X})"),
                None => {
                    let special = !x.is_finite()
                        || x > f32::from_bits(EXPF_OVERFLOW_BITS)
                        || x <= f32::from_bits(EXPF_TINY_BITS);
                    n_declined += u32::from(!special);
                }
            }
            assert!(expf(x).to_bits() == exact.to_bits() || exact.is_nan());
            match bits.checked_add(step) {
                Some(next) => bits = next,
                None => break,
            }
        }
        // Besides NaN, infinities, overflow and the tiny range (where the exact path returns a
        // constant), the fast path declines hardly anything.
        assert!(n_declined < 10, "{n_declined} ordinary inputs declined");
    }

    #[test]
    fn expf_falls_back_where_the_fast_path_cannot_decide() {
        // e^x ~ 1 + x lands within 2^-48 of an f32 rounding boundary for these x (three of the
        // 39 such inputs); the results are glibc's.
        for (x, want) in [
            (0x3380_0000, 0x3F80_0001),
            (0x337F_FFFF, 0x3F80_0000),
            (0x36FD_FFC1, 0x3F80_0040),
        ] {
            let x = f32::from_bits(x);
            assert_eq!(expf_fast(x), None, "{x}");
            assert_eq!(bits32(expf(x)), want, "{x}");
            assert_eq!(bits32(expf_exact(x)), want, "{x}");
        }
    }

    #[test]
    fn expf_special_inputs() {
        assert_eq!(bits32(expf(0.0)), 0x3F80_0000);
        assert_eq!(bits32(expf(-0.0)), 0x3F80_0000);
        assert_eq!(bits32(expf(f32::INFINITY)), 0x7F80_0000);
        assert_eq!(bits32(expf(f32::NEG_INFINITY)), 0);
        assert!(expf(f32::NAN).is_nan());
        assert!(expf(-f32::NAN).is_nan());
        assert_eq!(bits32(expf(f32::from_bits(1))), 0x3F80_0000);
        assert_eq!(bits32(expf(f32::MIN_POSITIVE)), 0x3F80_0000);
    }

    #[test]
    fn expf_overflows_exactly_above_88_72284() {
        let last_finite = f32::from_bits(EXPF_OVERFLOW_BITS);
        assert_eq!(bits32(expf(last_finite)), 0x7F7F_FF84);
        assert_eq!(
            bits32(expf(f32::from_bits(EXPF_OVERFLOW_BITS + 1))),
            0x7F80_0000
        );
        assert_eq!(bits32(expf(f32::MAX)), 0x7F80_0000);
    }

    #[test]
    fn expf_gives_subnormals_then_zero_when_underflowing() {
        assert_eq!(bits32(expf(-88.0)), 0x0041_EDC4); // below f32::MIN_POSITIVE
        assert_eq!(bits32(expf(-100.0)), 0x0000_001B);
        assert_eq!(bits32(expf(f32::from_bits(EXPF_TINY_BITS))), 0x0000_0001);
        assert_eq!(
            bits32(expf(f32::from_bits(EXPF_TINY_BITS + 1))),
            0x0000_0001
        );
        assert_eq!(
            bits32(expf(f32::from_bits(EXPF_UNDERFLOW_BITS))),
            0x0000_0001
        );
        assert_eq!(bits32(expf(f32::from_bits(EXPF_UNDERFLOW_BITS + 1))), 0);
        assert_eq!(bits32(expf(-1000.0)), 0);
    }

    #[test]
    fn expf_ordinary_values() {
        assert_eq!(bits32(expf(1.0)), 0x402D_F854);
        assert_eq!(bits32(expf(-1.0)), 0x3EBC_5AB2);
        assert_eq!(bits32(expf(0.5)), 0x3FD3_094C);
        assert_eq!(bits32(expf(10.0)), 0x46AC_14EE);
    }

    #[test]
    fn expf_fuses_the_reduction_remainder_like_the_reference() {
        // The only two f32 inputs where computing r = x * 32/ln2 - k unfused changes the result.
        assert_eq!(bits32(expf(f32::from_bits(0x4202_422F))), 0x56FC_9F1C);
        assert_eq!(bits32(expf(f32::from_bits(0xC27C_65D9))), 0x11FA_2993);
    }

    #[test]
    fn logf_special_inputs() {
        assert_eq!(bits32(logf(1.0)), 0);
        assert_eq!(bits32(logf(0.0)), 0xFF80_0000);
        assert_eq!(bits32(logf(-0.0)), 0xFF80_0000);
        assert_eq!(bits32(logf(f32::INFINITY)), 0x7F80_0000);
        assert!(logf(f32::NEG_INFINITY).is_nan());
        assert!(logf(-1.0).is_nan());
        assert!(logf(-f32::from_bits(1)).is_nan());
        assert!(logf(f32::NAN).is_nan());
    }

    #[test]
    fn logf_ordinary_and_subnormal_values() {
        assert_eq!(bits32(logf(2.0)), 0x3F31_7218);
        assert_eq!(bits32(logf(0.5)), 0xBF31_7218);
        assert_eq!(bits32(logf(10.0)), 0x4013_5D8E);
        assert_eq!(bits32(logf(f32::MAX)), 0x42B1_7218);
        assert_eq!(bits32(logf(f32::MIN_POSITIVE)), 0xC2AE_AC50);
        assert_eq!(bits32(logf(f32::from_bits(1))), 0xC2CE_8ED0);
    }

    #[test]
    fn exp_special_inputs() {
        assert_eq!(exp(0.0).to_bits(), 1.0_f64.to_bits());
        assert_eq!(exp(-0.0).to_bits(), 1.0_f64.to_bits());
        assert_eq!(exp(f64::INFINITY).to_bits(), f64::INFINITY.to_bits());
        assert_eq!(exp(f64::NEG_INFINITY).to_bits(), 0);
        assert!(exp(f64::NAN).is_nan());
        assert_eq!(exp(1e-300).to_bits(), 1.0_f64.to_bits());
        assert_eq!(exp(2000.0).to_bits(), f64::INFINITY.to_bits());
        assert_eq!(exp(-2000.0).to_bits(), 0);
    }

    #[test]
    fn exp_ordinary_and_limit_values() {
        assert_eq!(exp(1.0).to_bits(), 0x4005_BF0A_8B14_5769);
        assert_eq!(exp(-1.0).to_bits(), 0x3FD7_8B56_362C_EF38);
        assert_eq!(exp(700.0).to_bits(), 0x7F0D_945D_F4F8_EC8E);
        assert_eq!(exp(709.782712893384).to_bits(), 0x7FEF_FFFF_FFFF_FF2A);
        assert_eq!(exp(709.8).to_bits(), f64::INFINITY.to_bits());
        assert_eq!(exp(-708.5).to_bits(), 0x000E_6CF6_D088_97AC);
        assert_eq!(exp(-740.0).to_bits(), 0x0000_0000_0000_0055);
        assert_eq!(exp(-745.1).to_bits(), 0x0000_0000_0000_0001);
        assert_eq!(exp(-745.2).to_bits(), 0);
    }

    #[test]
    fn exp_fuses_like_the_reference() {
        // Inputs where leaving out the fusion of `c23 * r2 + (tail + r)`, respectively of the
        // final `scale * tmp + scale`, would change the last bit.
        let fused_poly = f64::from_bits(0x4073_48F9_8F25_7BA4);
        assert_eq!(exp(fused_poly).to_bits(), 0x5BC1_DE40_5F71_F937);
        let fused_final = f64::from_bits(0xC03B_BEA6_A3C0_19E0);
        assert_eq!(exp(fused_final).to_bits(), 0x3D6F_6715_598C_AC0D);
    }

    #[test]
    fn sigmoids_at_zero_are_one_half() {
        assert_eq!(bits32(sigmoid_xgboost(0.0)), 0x3F00_0000);
        assert_eq!(bits32(sigmoid_xgboost_legacy(0.0)), 0x3F00_0000);
        assert_eq!(sigmoid_lightgbm(0.0, 1.0).to_bits(), 0.5_f64.to_bits());
    }

    #[test]
    fn xgboost_eps_is_the_float_nearest_1e_minus_16() {
        assert_eq!(bits32(XGBOOST_SIGMOID_EPS), 0x24E6_9595);
        assert_eq!(bits32(XGBOOST_EXP_CLAMP), 0x42B1_6666);
    }
}
