"""Check-digit formulas, each with the source that defines it."""

from __future__ import annotations


def luhn_2_1(body: str) -> int:
    """The 検証番号 of 保険者番号, 公費負担者番号 and the 10-digit 医療機関コード.

    Source: MHLW 保険者番号等設定要領, quoted in the 東京都 press release of 2024-10-03
    (https://www.metro.tokyo.lg.jp/tosei/hodohappyo/press/2024/10/03/07.html):
    「各数に末尾の桁を起点として順次2と1を乗じる」, the digit sums of the products are added,
    and the check is 10 minus the last digit of the sum (0 when that digit is 0).
    For 医療機関コード the same rule runs over 都道府県2 + 点数表1 + 郡市区2 + 番号4
    (ja.wikipedia 処方箋発行医療機関コード, example 0110113719).
    """
    total = 0
    for position, char in enumerate(reversed(body)):
        product = int(char) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def mynumber_check(body11: str) -> int:
    """The 検査用数字 of the 12-digit 個人番号 (My Number).

    Source: 平成26年総務省令第八十五号 第五条: 11 − (Σ Pn × Qn mod 11), where Pn is the n-th
    digit counted from the lowest of the eleven, Qn = n + 1 for 1 ≤ n ≤ 6 and n − 5 for
    7 ≤ n ≤ 11; when the remainder is 0 or 1 the check digit is 0.
    """
    total = 0
    for n in range(1, 12):
        p = int(body11[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder
