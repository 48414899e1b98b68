#!/usr/bin/env python3
"""Constants of the GMM kernels' exp (crates/gmm/src/simd.rs, `exp_nonpositive`).

exp(x) = 2^e * T_j * (1 + q(r)), x = (16 e + j) ln2/16 + r, |r| <= ln2/32.
T_j = 2^(j/16) correctly rounded; q the degree-7 Taylor polynomial of e^r - 1
economised to degree 6 by Chebyshev's T7 (exact rational arithmetic), each
coefficient rounded to the nearest double. Prints the constants and the
worst relative error of 1 + q(r) against e^r (80-digit Decimal) on a grid.
Standard library only: python3 crates/gmm/scripts/exp_coefficients.py
"""
from decimal import Decimal, getcontext
from fractions import Fraction
from math import factorial

getcontext().prec = 80
R = Fraction(Decimal(2).ln()) / 32
c = [Fraction(1, factorial(i)) for i in range(8)]
# c7 r^7 - c7 R^7 / 64 * T7(r / R), T7(y) = 64 y^7 - 112 y^5 + 56 y^3 - 7 y.
q = [None, c[1] + c[7] * Fraction(7, 64) * R**6, c[2], c[3] - c[7] * Fraction(7, 8) * R**4,
     c[4], c[5] + c[7] * Fraction(7, 4) * R**2, c[6]]
print("Q =", [repr(float(v)) for v in q[1:]])
print("T =", [repr(float(Decimal(2) ** (Decimal(j) / 16))) for j in range(16)])
worst = Fraction(0)
for i in range(-400, 401):
    r = R * i / 400
    p = Fraction(float(q[6]))
    for k in (5, 4, 3, 2, 1):
        p = p * r + Fraction(float(q[k]))
    exact = Fraction((Decimal(r.numerator) / Decimal(r.denominator)).exp())
    worst = max(worst, abs(1 + p * r - exact) / exact)
print(f"worst relative error of 1 + q(r): {float(worst):.3e}")
