"""Landscapes from a formula: `from_expression("(1-x)**2 + 100*(y-x**2)**2", "-2,2,-1,3")`.

The formula is a real function of `x` (1-D), of `x` and `y` (2-D), or of `x0, ..., x{d-1}`
(any d up to `MAX_DIM`; every one of them must appear), written in Python
syntax (`^` is accepted for `**`) with the constants `pi` and `e` and the functions in
`FUNCTIONS`. The pipeline:

1. *Check* the text with Python's `ast` against a whitelist (numbers, `x`/`y`, the
   constants, `+ - * / **`, calls of whitelisted functions with one argument). Every
   constant sub-expression is evaluated in floating point on the way, so `10**10**10` or
   `log(-1)` is rejected before sympy sees it. Nothing of the text is executed here.
2. *Parse* with sympy's `parse_expr`, whose name lookup is restricted to those names
   (`__builtins__` emptied); after step 1 only arithmetic on sympy objects can reach it.
   Decimal literals become exact rationals (`0.1 -> 1/10`).
3. *Differentiate* symbolically: gradient and Hessian (upper triangle, mirrored, so the
   Hessian is exactly symmetric). `abs` differentiates to `sign`; the Dirac delta of its
   second derivative is taken as 0 (a kink's curvature is not represented).
4. *Compile* f, gradient and Hessian entries together with one common-subexpression
   elimination (`sympy.cse`) into NumPy code (`sympy.lambdify`). `f`, `grad`, `hess`,
   `lam_max` run the part of that one program they need, so they equal `evaluate`
   bit for bit.
5. *Check the domain*: f must be finite and real on a grid over the domain
   (129 x 129 points in 2-D, 4097 in 1-D, bounds included; for d > 2: the centre, the
   lowest and highest corners and 2^16 uniform points from `default_rng(0)`).
6. *Minima*, unless given: scipy's trust-region Newton (`trust-exact`) from the centres of
   a grid of cells (33 in 1-D, 11 x 11 in 2-D; for d > 2 the domain's centre and 63 uniform
   points from `default_rng(0)`), each end point polished by Newton on the
   exact derivatives, kept if it is a minimum inside the domain, deduplicated, named by
   value (`global`, or `global-1..k` for ties, then `local-1..`). Minima at kinks (`abs`,
   cones) are not found this way; give them.

Every problem is reported as an `ExpressionError` (a `ValueError`) with a one-line message
naming what is wrong. sympy is imported only here, and only when a landscape is built.
"""

from __future__ import annotations

import ast
import math
import re

import numpy as np

from landscapes.base import Landscape, Minimum, lam_max_2x2

#: name in a formula -> (sympy function name, float function for constant checks)
FUNCTIONS = {
    "exp": ("exp", math.exp),
    "log": ("log", math.log),
    "sqrt": ("sqrt", math.sqrt),
    "sin": ("sin", math.sin),
    "cos": ("cos", math.cos),
    "tan": ("tan", math.tan),
    "asin": ("asin", math.asin),
    "acos": ("acos", math.acos),
    "atan": ("atan", math.atan),
    "sinh": ("sinh", math.sinh),
    "cosh": ("cosh", math.cosh),
    "tanh": ("tanh", math.tanh),
    "abs": ("Abs", abs),
}
CONSTANTS = {"pi": math.pi, "e": math.e}
VARIABLES = ("x", "y")  # the 1-D and 2-D names; any d: x0, x1, ..., x{d-1}
MAX_DIM = 20  # indexed variables x0..x19: the symbolic Hessian has d (d + 1) / 2 entries
_INDEXED = re.compile(r"x(0|[1-9][0-9]*)")
DEFAULT_DOMAIN = (-5.0, 5.0)  # per coordinate, when no domain is given
MAX_LENGTH = 2000  # characters; bounds the work sympy can be asked to do
_MAX_EXPANDED_POWER = 8  # integer powers up to this are compiled as products (speed)

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY = {ast.UAdd: "+", ast.USub: "-"}
_SEARCH_STARTS = {1: 33, 2: 11}  # minimum-search starts per axis
_SEARCH_RANDOM = 63  # d > 2: random minimum-search starts besides the centre
_CHECK_POINTS = {1: 4097, 2: 129}  # grid points per axis for the finite-and-real check
_CHECK_RANDOM = 1 << 16  # d > 2: random points for the finite-and-real check


class ExpressionError(ValueError):
    """A formula, domain or minimum that cannot make a landscape; the message is one line.

    `field` says which input is at fault: ``"formula"``, ``"domain"`` or ``"minima"`` (the
    CLI names the option the user typed for it: `--expr`, `--domain`, `--minima`)."""

    def __init__(self, message: str, field: str = "formula") -> None:
        super().__init__(message)
        self.field = field


MAX_DEPTH = 200  # nesting of the formula's syntax tree; sympy recurses once per level
# functions nested in each other: sin(sin(...)) 75 deep took sympy 25 s to differentiate
MAX_NESTED_CALLS = 20


def from_expression(formula: str, domain=None, minima=None) -> ExpressionLandscape:
    """Build a landscape from `formula` in `x` (1-D), `x, y` (2-D) or `x0..x{d-1}`.

    Args:
        formula: e.g. ``"(1-x)**2 + 100*(y-x**2)**2"`` or ``"x0**2 + x1**2 + x2**2"``.
        domain: ``[lo, hi]`` (1-D) or ``[x_lo, x_hi, y_lo, y_hi]`` (2-D), in general one
            ``lo, hi`` pair per coordinate (for d > 2 also one pair for all of them), as
            numbers or one comma-separated string such as ``"-2,2,-1,3"``; default `[-5, 5]`
            per coordinate.
            It is the plotting box and the box random starts are drawn from.
        minima: known minima, as a list of points (named by value, see module docstring)
            or a dict `{name: point}`; a 1-D point may be a number. Used as given. `None`:
            found numerically.

    Raises:
        ExpressionError: one-line message naming what is wrong.
    """
    return ExpressionLandscape(formula, domain=domain, minima=minima)


class ExpressionLandscape(Landscape):
    """A landscape compiled from a formula; see the module docstring. Name: ``"expr"``."""

    name = "expr"

    def __init__(self, formula: str, domain=None, minima=None) -> None:
        if not isinstance(formula, str):
            raise ExpressionError(f"formula must be a string, got {type(formula).__name__}")
        self.formula = formula
        try:
            source, names_used = _check_formula(formula)
            self.dim = _dim_of(names_used)
            self.variables = _variables(names_used)
            self.bounds = _parse_domain(domain, self.dim)
            self._domain_given = domain is not None
            self._domain = self.bounds.ravel().tolist()
            self._given_minima = _normalize_minima(minima, self.dim)
            self.expr = _parse(source, self.variables)
            self._program = _Program(self.expr, self.variables)
            _check_finite_on_domain(self)
            self._minima = self._build_minima()
        except RecursionError:
            # what the depth check cannot foresee (sympy's derivatives of a deep tree nest
            # deeper than the tree): the same answer, never a traceback
            raise ExpressionError("formula is nested too deeply to differentiate; simplify "
                                  "it (fewer nested functions or powers)") from None
        self._f_target = min(m.f for m in self._minima)

    # -- description -------------------------------------------------------------------------
    @property
    def params(self) -> dict:
        return {"formula": self.formula, "domain": self._domain, "minima": self._given_minima}

    @property
    def minima(self) -> tuple[Minimum, ...]:
        return self._minima

    @property
    def f_target(self) -> float:  # type: ignore[override]
        return self._f_target

    # -- batched evaluation ------------------------------------------------------------------
    def f(self, x: np.ndarray) -> np.ndarray:
        return self._program.run(self._program.value, x)[0]

    def grad(self, x: np.ndarray) -> np.ndarray:
        return _stack_grad(self._program.run(self._program.gradient, x), len(x))

    def hess(self, x: np.ndarray) -> np.ndarray:
        return self._assemble(self._program.run(self._program.hessian, x), len(x))

    def _assemble(self, entries, n: int) -> np.ndarray:
        if self.dim == 1:
            return entries[0][:, None, None]
        if self.dim == 2:
            hxx, hxy, hyy = entries
            h = np.empty((n, 2, 2))
            h[:, 0, 0], h[:, 0, 1], h[:, 1, 0], h[:, 1, 1] = hxx, hxy, hxy, hyy
            return h
        h = np.empty((n, self.dim, self.dim))
        for (i, j), entry in zip(self._program.pairs, entries, strict=True):
            h[:, i, j] = entry
            h[:, j, i] = entry
        return h

    def lam_max(self, x: np.ndarray) -> np.ndarray:
        return self._lam_max(self._program.run(self._program.hessian, x))

    def evaluate(self, x: np.ndarray):
        out = self._program.run(self._program.everything, x)
        d = self.dim
        return out[0], _stack_grad(out[1 : 1 + d], len(x)), self._lam_max(out[1 + d :])

    def _lam_max(self, entries) -> np.ndarray:
        if self.dim == 1:
            return entries[0].copy()
        if self.dim == 2:
            if self._program.diagonal:  # exact, and cheaper than the 2x2 closed form
                return np.maximum(entries[0], entries[2])
            return lam_max_2x2(*entries)
        if self._program.diagonal:
            diag = [e for (i, j), e in zip(self._program.pairs, entries, strict=True) if i == j]
            return np.max(np.stack(diag), axis=0)
        return np.linalg.eigvalsh(self._assemble(entries, len(entries[0])))[:, -1]

    # -- minima ------------------------------------------------------------------------------
    def _build_minima(self) -> tuple[Minimum, ...]:
        from landscapes._minima import name_by_value, search_minima

        if self._given_minima is not None:
            if isinstance(self._given_minima, dict):
                names, pts = zip(*self._given_minima.items(), strict=True)
            else:
                names, pts = None, self._given_minima
            points = np.array(pts, dtype=float)
            outside = ~np.all((points >= self.bounds[:, 0]) & (points <= self.bounds[:, 1]),
                              axis=1)
            if outside.any():
                raise ExpressionError(f"minimum {pts[int(np.argmax(outside))]} lies outside "
                                      f"the domain {self._domain}", "minima")
            with np.errstate(all="ignore"):
                values = self.f(points)
            if not np.all(np.isfinite(values)):
                bad = pts[int(np.argmin(np.isfinite(values)))]
                raise ExpressionError(f"formula is not finite and real at the minimum {bad}",
                                      "minima")
            if names is None:
                return name_by_value(self, pts)
            return tuple(
                Minimum(k, np.array(p, dtype=float), float(v))
                for k, p, v in zip(names, pts, values, strict=True)
            )

        def fun_and_grad(p):
            out = self._program.run(self._program.value_and_gradient, p[None])
            return float(out[0][0]), np.array([g[0] for g in out[1:]])

        if self.dim <= 2:
            found = search_minima(self, fun_and_grad, per_axis=_SEARCH_STARTS[self.dim])
        else:
            lo, hi = self.bounds[:, 0], self.bounds[:, 1]
            starts = np.vstack([0.5 * (lo + hi), np.random.default_rng(0).uniform(
                lo, hi, size=(_SEARCH_RANDOM, self.dim))])
            found = search_minima(self, fun_and_grad, starts=starts)
        if not found:
            raise ExpressionError(
                f"found no minimum of {self.formula!r} inside the domain {self._domain}; "
                "give the minima explicitly", "domain" if self._domain_given else "formula")
        return name_by_value(self, found)


def _stack_grad(columns, n: int) -> np.ndarray:
    g = np.empty((n, len(columns)))
    for j, col in enumerate(columns):
        g[:, j] = col
    return g


# -- step 1: check the text ------------------------------------------------------------------
def formula_dim(formula: str) -> int:
    """1 for a formula in x, 2 for one in x and y, d for one in x0..x{d-1};
    `ExpressionError` for an invalid formula. Parses the text only (no sympy)."""
    return _dim_of(_check_formula(formula)[1])


def _dim_of(names_used: set[str]) -> int:
    indexed = [int(n[1:]) for n in names_used if _INDEXED.fullmatch(n)]
    if indexed:
        return max(indexed) + 1
    return 2 if "y" in names_used else 1


def _variables(names_used: set[str]) -> tuple[str, ...]:
    """The formula's variable names in coordinate order: (x,), (x, y) or (x0, .., x{d-1})."""
    if any(_INDEXED.fullmatch(n) for n in names_used):
        return tuple(f"x{i}" for i in range(_dim_of(names_used)))
    return VARIABLES[:_dim_of(names_used)]


def _check_formula(formula: str) -> tuple[str, set[str]]:
    """Validate `formula`; return the Python-syntax source and the variable names it uses."""
    source = formula.strip().replace("^", "**")
    if not source:
        raise ExpressionError("formula is empty")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"formula is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        msg = (err.msg or "invalid syntax").split(".")[0]
        if "forgot a comma" in (err.msg or ""):
            msg += " (missing '*'?)"
        # Python gives column 0 where the formula ends too soon ('x**2 +')
        where = (f"at column {err.offset}" if err.offset and err.offset <= len(source)
                 else "at its end (incomplete?)")
        raise ExpressionError(f"formula does not parse: {msg} {where}") from None
    depth, calls = _depth(tree.body)
    if depth > MAX_DEPTH:
        raise ExpressionError(f"formula nests {depth} operations deep (a sum of n terms nests "
                              f"n deep); at most {MAX_DEPTH}")
    if calls > MAX_NESTED_CALLS:
        raise ExpressionError(f"formula nests {calls} functions in each other; at most "
                              f"{MAX_NESTED_CALLS} (their derivatives grow with the nesting)")
    used: set[str] = set()
    _Checker(source, used).check(tree.body)
    indexed = {n for n in used if _INDEXED.fullmatch(n)}
    if indexed and used - indexed:
        raise ExpressionError(f"formula mixes {' and '.join(sorted(used - indexed))} with "
                              f"{', '.join(sorted(indexed))}: use x, y (1-D, 2-D) or "
                              "x0, x1, ... (any dimension)")
    if "x" not in used and not indexed:
        raise ExpressionError("formula must use x (1-D), x and y (2-D), or x0..x{d-1}")
    return source, used


def _depth(tree: ast.AST) -> tuple[int, int]:
    """(depth of the syntax tree, most function calls nested in each other), counted
    without recursion (a tree may be thousands deep)."""
    deepest, calls, stack = 0, 0, [(tree, 1, 0)]
    while stack:
        node, level, nested = stack.pop()
        nested += isinstance(node, ast.Call)
        deepest, calls = max(deepest, level), max(calls, nested)
        stack.extend((child, level + 1, nested) for child in ast.iter_child_nodes(node)
                     if not isinstance(child, (ast.operator, ast.unaryop, ast.expr_context)))
    return deepest, calls


class _Checker:
    """Walks the AST; returns the float value of constant sub-trees, `None` otherwise."""

    def __init__(self, source: str, used: set[str]) -> None:
        self.source, self.used = source, used

    def text(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.source, node) or type(node).__name__

    def check(self, node: ast.AST) -> float | None:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, complex):
                raise ExpressionError(f"complex number {self.text(node)!r} is not allowed")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ExpressionError(f"unsupported literal {self.text(node)!r} in formula")
            return self.finite(node, lambda: float(value))
        if isinstance(node, ast.Name):
            if node.id in VARIABLES:
                self.used.add(node.id)
                return None
            if _INDEXED.fullmatch(node.id):
                if int(node.id[1:]) >= MAX_DIM:
                    raise ExpressionError(f"{node.id}: formulas have at most {MAX_DIM} "
                                          f"variables x0..x{MAX_DIM - 1}")
                self.used.add(node.id)
                return None
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            if node.id in FUNCTIONS:
                raise ExpressionError(f"function {node.id!r} needs an argument, e.g. {node.id}(x)")
            raise ExpressionError(f"unknown name {node.id!r} in formula; {_ALLOWED}")
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = self.check(node.left), self.check(node.right)
            if isinstance(node.op, ast.Div) and right == 0.0:
                raise ExpressionError(f"{self.text(node)!r} divides by zero")
            if left is None or right is None:
                return None
            op = {ast.Add: float.__add__, ast.Sub: float.__sub__, ast.Mult: float.__mul__,
                  ast.Div: float.__truediv__, ast.Pow: float.__pow__}[type(node.op)]
            return self.finite(node, lambda: op(left, right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            value = self.check(node.operand)
            if value is None:
                return None
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp | ast.UnaryOp):
            op = type(node.op).__name__
            raise ExpressionError(f"operator {op} in {self.text(node)!r} is not supported")
        if isinstance(node, ast.Call):
            return self.call(node)
        raise ExpressionError(f"unsupported syntax {self.text(node)!r} in formula")

    def call(self, node: ast.Call) -> float | None:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name is None:
            raise ExpressionError(f"unsupported call {self.text(node)!r} in formula")
        if name not in FUNCTIONS:
            if name in VARIABLES or name in CONSTANTS or _INDEXED.fullmatch(name):
                raise ExpressionError(f"{name!r} is not a function (missing '*'?)")
            raise ExpressionError(f"unknown function {name!r} in formula; {_ALLOWED}")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise ExpressionError(f"{name}() takes exactly one argument: {self.text(node)!r}")
        value = self.check(node.args[0])
        if value is None:
            return None
        return self.finite(node, lambda: FUNCTIONS[name][1](value))

    def finite(self, node: ast.AST, compute) -> float:
        """Value of a constant sub-tree; an error if it is not a finite real number."""
        try:
            value = compute()
        except (ArithmeticError, ValueError):
            value = math.nan
        if isinstance(value, complex) or not math.isfinite(value):
            raise ExpressionError(f"{self.text(node)!r} is not a finite real number")
        return float(value)


_ALLOWED = (
    f"allowed: variables x, y (or x0, x1, ..., x{MAX_DIM - 1}); constants {', '.join(CONSTANTS)}; "
    f"functions {', '.join(FUNCTIONS)}; operators + - * / ** (or ^)"
)


# -- step 2: parse and differentiate ----------------------------------------------------------
def _symbols(variables: tuple[str, ...]):
    import sympy

    return [sympy.Symbol(v, real=True) for v in variables]


def _parse(source: str, variables: tuple[str, ...]):
    import sympy
    from sympy.parsing.sympy_parser import auto_number, parse_expr, rationalize

    names = {str(s): s for s in _symbols(variables)}
    names.update({"pi": sympy.pi, "e": sympy.E})
    names.update({k: getattr(sympy, sym) for k, (sym, _) in FUNCTIONS.items()})
    safe_globals = {"__builtins__": {}, "Integer": sympy.Integer, "Float": sympy.Float,
                    "Rational": sympy.Rational}
    try:
        expr = parse_expr(source, local_dict=names, global_dict=safe_globals,
                          transformations=(auto_number, rationalize))
    except Exception as err:  # noqa: BLE001 - whatever sympy raises becomes one line
        raise ExpressionError(f"formula could not be built: {_one_line(err)}") from None
    if expr.has(sympy.I):
        raise ExpressionError("formula is not real-valued (it contains the imaginary unit)")
    if expr.has(sympy.zoo, sympy.oo, sympy.nan):
        raise ExpressionError("formula is infinite or undefined (a constant part is)")
    missing = [v for v in variables if sympy.Symbol(v, real=True) not in expr.free_symbols]
    if missing:
        raise ExpressionError(f"formula does not depend on {', '.join(missing)} after "
                              f"simplification: {expr}")
    return expr


def _one_line(err: Exception) -> str:
    return re.sub(r"\s+", " ", f"{type(err).__name__}: {err}").strip()


class _Program:
    """f, gradient and Hessian entries of `expr`, compiled by one CSE into NumPy programs.

    `everything` lists all outputs `[f, g_1..g_d, h_11, (h_12, h_22)]` (in general the upper
    triangle `h_ij`, `i <= j`, row by row: `pairs`); `value`,
    `gradient`, `hessian`, `value_and_gradient` run only the sub-expressions their outputs
    need, computed by the very same statements as in `everything`.
    """

    def __init__(self, expr, variables: tuple[str, ...]) -> None:
        import sympy

        xs = _symbols(variables)
        dim = len(xs)
        grad = [sympy.diff(expr, v) for v in xs]
        pairs = [(i, j) for i in range(dim) for j in range(i, dim)]
        hess = [sympy.diff(grad[i], xs[j]) for i, j in pairs]
        outputs = [_drop_dirac(e) for e in [expr, *grad, *hess]]
        if any(e.has(sympy.Derivative, sympy.Subs) for e in outputs):
            raise ExpressionError("formula could not be differentiated symbolically")
        self.pairs = pairs
        off = [e for (i, j), e in zip(pairs, outputs[1 + dim:], strict=True) if i != j]
        self.diagonal = dim >= 2 and all(e == 0 for e in off)  # separable: H diagonal
        reps, reduced = sympy.cse(outputs, symbols=sympy.numbered_symbols("t_"))
        self._xs, self._reps, self._reduced = xs, reps, reduced
        n = len(outputs)
        self.everything = self._compile(range(n))
        self.value = self._compile([0])
        self.gradient = self._compile(range(1, 1 + dim))
        self.hessian = self._compile(range(1 + dim, n))
        self.value_and_gradient = self._compile(range(1 + dim))

    def _compile(self, indices):
        import sympy

        wanted = [self._reduced[i] for i in indices]
        needed = set().union(*(e.free_symbols for e in wanted))
        kept = []
        for sym, rhs in reversed(self._reps):  # a statement only uses earlier ones
            if sym in needed:
                kept.append((sym, rhs))
                needed |= rhs.free_symbols
        kept.reverse()
        try:
            return sympy.lambdify(self._xs, wanted, modules="numpy", printer=_printer(),
                                  cse=lambda exprs: (kept, list(exprs)))
        except Exception as err:  # noqa: BLE001 - e.g. a function NumPy cannot print
            raise ExpressionError(f"formula cannot be compiled: {_one_line(err)}") from None

    @staticmethod
    def run(program, x: np.ndarray) -> list[np.ndarray]:
        """Outputs of `program` at `x (N, d)`, each as an `(N,)` float64 array."""
        x = np.asarray(x, dtype=float)
        n = len(x)
        # NaN where the formula is not real (log of a negative): every caller checks for it
        # (a start refused, a run diverged, a contour left blank), so NumPy's warning is noise
        with np.errstate(all="ignore"):
            out = program(*(x[:, j] for j in range(x.shape[1])))
        return [v if _fresh(v, n) else np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy()
                for v in out]


def _fresh(v, n: int) -> bool:
    """An `(n,)` float64 array the program computed (not a constant, not a view of `x`)."""
    return isinstance(v, np.ndarray) and v.base is None and v.shape == (n,) \
        and v.dtype == np.float64


def _printer():
    """sympy's NumPy printer, except that small integer powers become products.

    NumPy's `power` is fast only for the exponents 2, 0.5 and -1; `x**4` on an array costs
    about four multiplications' worth of `x*x*x*x` times... measured: ~4x slower at N = 1e4.
    So `b**n` for `3 <= |n| <= 8` prints as `b*b*...*b` (or `1/(...)` for `n < 0`) and
    `b**-2` as `1/b**2`; the rounding differs from `pow` by a few ulps at most.
    """
    from sympy.printing.numpy import NumPyPrinter
    from sympy.printing.precedence import PRECEDENCE

    class Printer(NumPyPrinter):
        def _print_Pow(self, expr, rational=False):
            n = int(expr.exp) if expr.exp.is_Integer else 0
            if abs(n) <= 1 or abs(n) > _MAX_EXPANDED_POWER or n == 2:
                return super()._print_Pow(expr, rational=rational)
            base = self.parenthesize(expr.base, PRECEDENCE["Mul"], strict=True)
            product = f"{base}**2" if n == -2 else "*".join([base] * abs(n))
            return f"({product})" if n > 0 else f"(1/({product}))"

    return Printer({"fully_qualified_modules": False, "inline": True,
                    "allow_unknown_functions": False, "user_functions": {}})


def _drop_dirac(expr):
    import sympy

    return expr.replace(sympy.DiracDelta, lambda *args: sympy.S.Zero)


# -- steps 5 and 6: domain and minima -------------------------------------------------------
def _parse_domain(domain, dim: int) -> np.ndarray:
    if domain is None:
        return np.tile(DEFAULT_DOMAIN, (dim, 1)).astype(float)
    if isinstance(domain, str):
        parts = [p for p in re.split(r"[,\s]+", domain.strip()) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ExpressionError(f"domain {domain!r} is not a list of numbers",
                                  "domain") from None
    else:
        try:
            values = [float(v) for v in np.asarray(domain, dtype=float).ravel()]
        except (TypeError, ValueError):
            raise ExpressionError(f"domain {domain!r} is not a list of numbers",
                                  "domain") from None
    if dim > 2 and len(values) == 2:
        values = values * dim  # one lo,hi pair for every coordinate
    if len(values) != 2 * dim:
        need = {1: "lo,hi", 2: "x_lo,x_hi,y_lo,y_hi"}.get(dim, f"lo,hi or {dim} lo,hi pairs")
        raise ExpressionError(f"domain needs {2 * dim} numbers ({need}) for a {dim}-D formula, "
                              f"got {len(values)}", "domain")
    box = np.array(values).reshape(dim, 2)
    with np.errstate(over="ignore"):
        width = box[:, 1] - box[:, 0]
    if not (np.all(np.isfinite(box)) and np.all(np.isfinite(width))) or np.any(width <= 0):
        raise ExpressionError(f"domain {values} must be finite with lo < hi per coordinate",
                              "domain")
    return box


def _check_finite_on_domain(land: ExpressionLandscape) -> None:
    if land.dim <= 2:
        per_axis = _CHECK_POINTS[land.dim]
        axes = [np.linspace(lo, hi, per_axis) for lo, hi in land.bounds]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, land.dim)
    else:
        lo, hi = land.bounds[:, 0], land.bounds[:, 1]
        grid = np.vstack([0.5 * (lo + hi), lo, hi, np.random.default_rng(0).uniform(
            lo, hi, size=(_CHECK_RANDOM, land.dim))])
    try:
        with np.errstate(all="ignore"):
            values = land.f(grid)
    except (ArithmeticError, TypeError, ValueError) as err:
        raise ExpressionError(f"formula cannot be evaluated: {_one_line(err)}") from None
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        where = ", ".join(f"{v}={c:g}" for v, c in zip(land.variables, grid[i], strict=True))
        raise ExpressionError(
            f"formula is not finite and real on the domain: f({where}) = {values[i]}")


def _normalize_minima(minima, dim: int):
    """Given minima as JSON-ready lists (`{name: [..]}` or `[[..], ..]`), or `None`."""
    if minima is None:
        return None
    items = minima.items() if isinstance(minima, dict) else enumerate(minima)
    out = {}
    for key, point in items:
        try:
            p = np.asarray(point, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise ExpressionError(f"minimum {point!r} is not a point", "minima") from None
        if len(p) != dim or not np.all(np.isfinite(p)):
            raise ExpressionError(f"minimum {point!r} must be {dim} finite number(s)", "minima")
        out[str(key) if isinstance(minima, dict) else key] = p.tolist()
    if not out:
        raise ExpressionError("minima, when given, must name at least one point", "minima")
    return out if isinstance(minima, dict) else list(out.values())


__all__ = ["CONSTANTS", "ExpressionError", "ExpressionLandscape", "FUNCTIONS", "from_expression"]
