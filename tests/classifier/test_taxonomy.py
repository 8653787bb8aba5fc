from classifier.taxonomy import LABELS, MODELS, ROLES, STAKEHOLDER_TYPES, label_name


def test_five_models_in_letter_order_with_definitions():
    assert LABELS == ("A", "B", "C", "D", "E")
    assert all(len(m.definition) > 80 and m.decisive_facts for m in MODELS)


def test_label_names_follow_the_seed():
    assert label_name("A") == "City-Led Model"
    assert label_name("D") == "Public-Private SPC"


def test_roles_and_types_are_the_agreed_vocabularies():
    assert set(ROLES) == {
        "lead",
        "funder",
        "investor",
        "operator",
        "advisor",
        "regulator",
        "participant",
        "beneficiary",
    }
    assert set(STAKEHOLDER_TYPES) == {"government", "private", "research", "civil_society", "international"}
