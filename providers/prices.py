"""What a model's tokens cost: a price table per model, in USD per million tokens.

The table ships with the default models (``prices.json`` beside this module) and can be
extended or overridden by a file of the same shape (``PRICES_FILE``): its models replace or add
to the shipped ones, and a model given ``null`` has no price. Costs use the token counts the
provider reported; where it reported none (a cancelled stream, a provider that sends no usage),
``estimate_tokens`` counts four characters per token, the usual rule of thumb for English.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import orjson

SHIPPED = Path(__file__).with_name("prices.json")
CHARS_PER_TOKEN = 4


class PriceFileError(ValueError):
    """A price file that cannot be read or is not of the expected shape (one clear line)."""


@dataclass(frozen=True, slots=True)
class Price:
    input: float  # USD per million input tokens
    output: float  # USD per million output tokens

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return round((input_tokens * self.input + output_tokens * self.output) / 1e6, 8)


class PriceTable:
    def __init__(self, prices: dict[str, Price]) -> None:
        self.prices = prices

    @classmethod
    def load(cls, override: Path | None = None) -> PriceTable:
        prices = read_prices(SHIPPED)
        if override is not None:
            for model, price in read_prices(override, allow_null=True).items():
                if price is None:
                    prices.pop(model, None)
                else:
                    prices[model] = price
        return cls(prices)  # type: ignore[arg-type]  # None prices were popped just above

    def price(self, model: str) -> Price | None:
        """The model's price; a dated or suffixed name (``gpt-4o-mini-2024-07-18``, or a
        simulator's ``gpt-5.5+tokens=9``) takes the price of the longest listed name it starts
        with."""
        found = self.prices.get(model)
        if found is not None:
            return found
        best = ""
        for name in self.prices:
            if (
                len(model) > len(name)
                and model.startswith(name)
                and model[len(name)] in "-+@"
                and len(name) > len(best)
            ):
                best = name
        return self.prices[best] if best else None

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        price = self.price(model)
        return None if price is None else price.cost(input_tokens, output_tokens)


def estimate_tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def read_prices(path: Path, *, allow_null: bool = False) -> dict[str, Price | None]:
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as error:
        raise PriceFileError(f"cannot read {path}: {error.strerror or error}") from None
    except orjson.JSONDecodeError as error:
        raise PriceFileError(f"{path} is not JSON: {error}") from None
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, dict):
        raise PriceFileError(
            f'{path}: expected {{"models": {{"<model>": {{"input": …, "output": …}}}}}}'
        )
    prices: dict[str, Price | None] = {}
    for model, entry in models.items():
        if entry is None and allow_null:
            prices[model] = None
            continue
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), int | float)
            and not isinstance(entry.get(k), bool)
            and entry[k] >= 0
            for k in ("input", "output")
        ):
            raise PriceFileError(
                f'{path}: {model!r} needs non-negative numbers "input" and "output" '
                "(USD per million tokens)"
            )
        prices[model] = Price(float(entry["input"]), float(entry["output"]))
    return prices
