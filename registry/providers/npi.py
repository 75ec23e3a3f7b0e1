"""National Provider Identifier check digit (CMS: Luhn over the number prefixed with 80840)."""

from __future__ import annotations


def npi_check_digit(first_nine: str) -> int:
    """The check digit for the first nine digits of an NPI."""
    payload = "80840" + first_nine
    total = 0
    # double every second digit starting from the rightmost digit of the payload
    for index, char in enumerate(reversed(payload)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def npi_problem(value: str) -> str | None:
    """Why ``value`` is not a valid NPI, or None if it is."""
    if not isinstance(value, str) or len(value) != 10 or not value.isascii() or not value.isdigit():
        return f"'{value}' is not an NPI: an NPI is exactly 10 digits."
    expected = npi_check_digit(value[:9])
    if int(value[9]) != expected:
        return f"'{value}' is not a valid NPI: its check digit is {value[9]}, but the first nine digits give {expected}. Check for a typing error."
    return None
