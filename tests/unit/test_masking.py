from __future__ import annotations

from services.privacy.masking import mask_address, mask_id_number, mask_name, mask_phone


def test_phone_keeps_first_three_and_last_four() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("+86 138-0013-8000") == "138****8000"
    assert mask_phone(None) is None


def test_names_addresses_and_ids() -> None:
    assert mask_name("王小明") == "王**"
    assert mask_address("梅溪街道柳塘小区3幢2单元501室") == "梅溪街道柳塘****"
    assert mask_id_number("110101199003071234") == "110***********1234"
