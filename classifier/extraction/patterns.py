"""Lexicons and Matcher patterns: which words make a noun phrase an actor, and of which kind.

Everything the rules know about vocabulary lives here, so tuning the extractor
means editing lists, not code. Words are lower-case surface forms (the
lemmatizer is switched off for speed), plurals listed explicitly.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher

__all__ = [
    "ACTOR_HEADS",
    "ANAPHOR_HEADS",
    "BUSINESS_WORDS",
    "CIVIL_HEADS",
    "CIVIL_WORDS",
    "FOREIGN_HEADS",
    "GOV_HEADS",
    "GOV_NAME_WORDS",
    "GOV_SUFFIXES",
    "INTERNATIONAL_NAMES",
    "INTERNATIONAL_WORDS",
    "LEGAL_SUFFIXES",
    "NON_ACTOR_LAST",
    "NOT_ACTORS",
    "PRIVATE_HEADS",
    "RESEARCH_HEADS",
    "RESEARCH_WORDS",
    "STRIP_LEADING",
    "COMPANY_FORMS",
    "COMPANY_FORMS_UPPER",
    "build_company_matcher",
    "build_head_matcher",
    "build_international_matcher",
    "plural",
]


def plural(words: set[str]) -> set[str]:
    """The words and their regular English plurals (firm -> firms, agency -> agencies)."""
    out = set(words)
    for w in words:
        if w.endswith("y") and w[-2:-1] not in "aeiou":
            out.add(w[:-1] + "ies")
        elif w.endswith(("s", "x", "ch", "sh")):
            out.add(w + "es")
        else:
            out.add(w + "s")
    return out


# Head nouns of generic actors, by the stakeholder type they usually mean (guidelines section 4).
GOV_HEADS = plural(
    {
        "city", "council", "municipality", "county", "assembly", "ministry", "department", "agency",
        "authority", "administration", "bureau", "directorate", "government", "commune", "state",
        "committee", "commission", "regulator", "police", "inspectorate", "secretariat", "town",
        "utility", "prefecture", "province", "region", "district", "mayoralty", "office", "board",
        "service", "division", "unit", "cabinet", "parliament", "legislature", "treasury", "ministries",
        "governorate", "akimat", "majlis", "municipio", "ayuntamiento", "prefeitura", "alcaldía", "mairie",
        "khokimiyat", "gemeente", "kommune", "municipalidad", "intendencia",
    }
)  # fmt: skip
PRIVATE_HEADS = plural(
    {
        "company", "firm", "startup", "start-up", "operator", "developer", "investor", "bank", "fund",
        "group", "holding", "consortium", "contractor", "supplier", "manufacturer", "maker", "provider",
        "integrator", "consultancy", "consultant", "business", "insurer", "lender", "retailer", "enterprise",
        "distributor", "importer", "producer", "carmaker", "telecom", "builder", "architect", "platform",
        "venture", "utility", "chain", "incubator", "accelerator", "sme", "corporation", "landlord",
        "engineer", "vendor", "bidder", "partnership", "brewery", "hotel", "lodge", "processor", "owner",
        "financier", "subsidiary", "shipping line", "carrier", "chamber", "entrepreneur", "employer", "pharmacy",
        "dealer", "scale-up",
    }
) | {"ups"}  # "start-ups", "scale-ups": the tokenizer splits at the hyphen  # fmt: skip
RESEARCH_HEADS = plural(
    {
        "university", "institute", "college", "laboratory", "lab", "researcher", "academic", "scientist",
        "polytechnic", "academy", "school", "centre", "center", "observatory", "faculty",
    }
)  # fmt: skip
CIVIL_HEADS = plural(
    {
        "resident", "citizen", "household", "family", "passenger", "commuter", "patient", "pupil", "student",
        "parent", "tenant", "user", "customer", "rider", "driver", "cyclist", "pedestrian", "visitor",
        "tourist", "farmer", "fisherman", "trader", "picker", "ngo", "cooperative", "co-operative", "union",
        "association", "federation", "coalition", "network", "community", "forum", "volunteer", "worker",
        "employee", "buyer", "beneficiary", "taxpayer", "homeowner", "motorist", "learner", "teacher",
        "youth", "woman", "elder", "leader", "representative", "charity", "foundation", "trust", "club",
        "people", "public", "neighbourhood", "neighborhood", "villager", "occupant", "subscriber", "consumer",
        "caregiver", "nurse", "doctor", "collector", "member", "panel", "initiative", "movement", "shopper",
        "audience", "ratepayer", "dweller", "settler", "inhabitant", "guide", "artisan", "craftsman",
        "organisation", "organization",
    }
)  # fmt: skip
CIVIL_HEADS |= {"fishermen", "women", "people", "youth", "children", "elderly", "men", "craftsmen", "staff"}

# Words that never make a stakeholder on their own (with at most a determiner or a number): roles in
# the deal and people's titles. "the partners" refers back; "the mayor" is a person.
NOT_ACTORS = {
    "partner", "partners", "party", "parties", "shareholder", "shareholders", "stakeholder", "stakeholders",
    "member", "members", "side", "sides", "director", "directors", "mayor", "mayors", "clerk", "chair",
    "chairperson", "chairman", "chairwoman", "executive", "executives", "officer", "officers", "official",
    "officials", "manager", "managers", "minister", "ministers", "councillor", "councillors", "councilor",
    "councilors", "spokesperson", "head", "heads", "secretary", "governor", "president", "ceo", "staff",
    "team", "teams", "applicant", "applicants", "winner", "lessee", "owner", "owners", "public", "body",
    "bodies", "entity", "entities", "organisation", "organisations", "organization", "organizations",
    "participant", "participants", "institution", "institutions", "actor", "actors", "player", "players",
    "unit", "units", "division", "service", "services", "network", "networks", "platform", "platforms",
    "chain", "initiative", "initiatives", "venture", "ventures", "office", "offices", "people", "leader",
    "leaders", "representative", "representatives", "engineer", "engineers", "doctor", "doctors", "nurse",
    "nurses", "guide", "guides", "school", "schools", "hotel", "hotels", "lab", "labs", "centre", "centres",
    "center", "centers", "state", "states", "region", "regions", "district", "districts", "province",
    "provinces", "town", "towns", "city", "cities", "community", "communities", "club", "clubs", "group",
    "groups", "utility", "utilities", "fund", "funds", "board", "boards", "panel", "forum", "committee",
    "committees", "trust", "trusts", "union", "unions", "association", "associations",
}  # fmt: skip
# A definite "the council", "the company", "the university" refers back to a party named earlier.
ANAPHOR_HEADS = {
    "city", "council", "municipality", "county", "assembly", "ministry", "department", "agency",
    "authority", "administration", "government", "commune", "company", "firm", "startup", "start-up",
    "operator", "developer", "consortium", "contractor", "university", "institute", "bureau",
    "directorate", "board", "committee", "commission", "state", "town", "corporation", "bank", "fund",
    "group", "supplier", "integrator", "district", "utility", "venture", "joint venture", "forum",
    "panel", "trust", "vendor", "college", "office", "provider", "maker", "manufacturer", "lender",
    "builder", "investor", "partner", "regulator", "hall", "chamber",
    "federation", "association", "cooperative", "network", "center", "centre", "body", "entity", "spc",
    "vehicle", "applicant", "concessionaire", "subsidiary", "telecom", "insurer", "alliance",
}  # fmt: skip
# Heads of names in French, Spanish, Portuguese, Italian, German and Malay: "Ayuntamiento de Mérida".
FOREIGN_HEADS = {
    "universidad": "research", "universidade": "research", "université": "research", "universite": "research",
    "universität": "research", "università": "research", "institut": "research", "instituto": "research",
    "istituto": "research", "hochschule": "research", "escuela": "research", "école": "research",
    "alcaldía": "government", "alcaldia": "government", "ayuntamiento": "government", "municipalidad": "government",
    "prefeitura": "government", "intendencia": "government", "gobierno": "government", "secretaría": "government",
    "secretaria": "government", "ministerio": "government", "ministère": "government", "mairie": "government",
    "ville": "government", "commune": "government", "conseil": "government", "consejo": "government",
    "conselho": "government", "comune": "government", "dewan": "government", "majlis": "government",
    "stadt": "government", "gemeente": "government", "direction": "government", "dirección": "government",
    "empresa": "private", "compañía": "private", "companhia": "private", "société": "private",
    "societe": "private", "agence": "government", "agencia": "government", "fundación": "civil_society",
    "fundação": "civil_society", "fondation": "civil_society", "asociación": "civil_society",
    "associação": "civil_society", "association": "civil_society", "cámara": "private", "câmara": "government",
    "cooperativa": "civil_society", "coopérative": "civil_society", "banco": "private", "banque": "private",
}  # fmt: skip
ACTOR_HEADS = (
    GOV_HEADS
    | PRIVATE_HEADS
    | RESEARCH_HEADS
    | CIVIL_HEADS
    | {"alliance", "alliances", "body", "bodies"}
    | set(FOREIGN_HEADS)
)

# Last words that make an ORG entity a thing, not an actor ("the Smart Mobility Act", "Boma Road").
NON_ACTOR_LAST = {
    "act", "law", "bill", "policy", "programme", "program", "project", "projects", "plan", "strategy",
    "app", "portal", "zone", "quarter", "corridor", "market", "station", "road", "street", "avenue",
    "square", "scheme", "pilot", "challenge", "index", "report", "card", "cards", "system", "hall",
    "chamber", "campus", "building", "tower", "park", "precinct", "estate", "week", "day", "award",
    "awards", "prize", "summit", "conference", "festival", "expo", "framework", "code", "charter",
    "regulations", "regulation", "agreement", "treaty", "declaration", "standard", "standards", "line",
    "lines", "network", "grid", "bridge", "port", "airport", "terminal", "route", "loop", "lane",
    "junction", "centre", "center", "hub", "district", "platform", "dashboard", "model", "series",
}  # fmt: skip

LEGAL_SUFFIXES = {
    "ltd", "ltd.", "limited", "plc", "inc", "inc.", "llc", "gmbh", "ag", "sa", "s.a.", "sarl", "sas", "spa",
    "bv", "nv", "pty", "(pty", "co", "co.", "corp", "corp.", "holdings", "group", "cc", "kg", "oy", "ab",
    "as", "a/s", "pte", "sdn", "bhd", "kk", "srl", "s.r.l.", "lp", "llp", "jsc", "pjsc", "ooo", "tbk", "se",
}  # fmt: skip
GOV_SUFFIXES = {
    "government", "council", "administration", "municipality", "assembly", "authority", "county",
    "metropolitan", "city", "commune", "district", "state", "ministry", "prefecture", "province",
}  # fmt: skip
GOV_NAME_WORDS = {
    "city", "council", "municipal", "municipality", "metropolitan", "county", "district", "ministry",
    "minister", "department", "agency", "authority", "administration", "bureau", "directorate",
    "office", "commission", "government", "state", "police", "commune", "ville", "mairie", "town",
    "assembly", "prefecture", "province", "provincial", "regional", "federal", "national", "public",
    "committee", "board", "service", "services", "regulatory", "regulator", "inspectorate", "cabinet",
    "ministerio", "ayuntamiento", "gobierno", "municipalidad", "prefeitura", "secretaria", "stadt",
    "gemeente", "kommune", "senate", "parliament", "treasury", "utility", "utilities", "mayor",
    "mayoral", "governorate", "emirate", "ward", "borough", "corporation", "secretariat", "division",
    "unit", "hall", "brigade", "fire", "transport", "water", "electricity", "intendencia", "municipio",
    "alcaldia", "alcaldía", "concello", "comune", "gemeinde", "kommun", "akimat", "khokimiyat",
    "executive", "municipalité", "région", "départment", "provincia", "regione",
}  # fmt: skip
RESEARCH_WORDS = {
    "university", "universities", "université", "universidad", "universidade", "universität",
    "universiteit", "università", "institute", "institut", "instituto", "college", "polytechnic",
    "laboratory", "laboratories", "lab", "labs", "research", "researchers", "academy", "academic",
    "academics", "scientists", "scientific", "school", "csir", "mit", "observatory", "faculty",
    "technion", "fraunhofer", "tno", "epfl", "eth", "kaist", "knust", "hochschule", "universitat",
}  # fmt: skip
CIVIL_WORDS = {
    "residents", "resident", "residents'", "citizens", "citizen", "community", "communities", "ngo",
    "ngos", "cooperative", "cooperatives", "co-operative", "union", "unions", "women", "women's",
    "youth", "neighbourhood", "neighborhood", "civil", "society", "charity", "volunteers", "tenants",
    "tenants'", "households", "patients", "passengers", "commuters", "pupils", "students", "students'",
    "parents", "users", "customers", "riders", "drivers", "pedestrians", "cyclists", "farmers",
    "fishermen", "fishermen's", "traders", "vendors", "pickers", "people", "consumers", "customer",
    "user", "ward-based", "ward", "federation", "dwellers", "villagers", "taxpayers", "ratepayers",
    "ratepayers'", "elderly", "disability", "disabled", "foundation", "cultural", "faith", "church",
    "mosque", "consumer", "advocacy", "rights", "justice", "environmental", "associations", "leaders",
    "representatives", "trusts", "collectors'", "pensioners", "families", "learners",
    "teachers", "workers", "committees", "groups", "forums", "collectives", "collective", "grassroots",
    "motorists", "homeowners", "occupants", "visitors", "tourists", "inhabitants",
}  # fmt: skip
BUSINESS_WORDS = {
    "business", "businesses", "commerce", "industry", "industries", "manufacturers", "employers",
    "bankers", "hotelkeepers", "hoteliers", "developers", "investors", "retailers", "traders'",
    "operators", "companies", "firms", "chamber", "enterprises", "property", "merchants", "exporters",
    "importers", "contractors", "builders", "startups", "start-ups", "insurers", "landlords", "hotels",
    "hotel", "entrepreneurs", "producers", "tourism", "restaurants", "shops", "shopkeepers", "retail",
    "banking", "pension", "investment", "capital", "holdings", "ventures", "partners", "equity", "construction",
    "logistics", "technology", "tech", "telecom", "software", "engineering", "transport", "shipping",
}  # fmt: skip

# International organizations (guidelines: EU, World Bank, UN bodies, development banks, foreign
# governments and their agencies). Matched case-insensitively as phrases.
INTERNATIONAL_NAMES = [
    "EU", "European Union", "European Commission", "European Investment Bank", "EIB", "EBRD",
    "European Bank for Reconstruction and Development", "World Bank", "World Bank Group", "IFC",
    "International Finance Corporation", "IMF", "International Monetary Fund", "UN", "United Nations",
    "UNDP", "UNEP", "UNICEF", "UNESCO", "UN-Habitat", "UN Habitat", "UN Environment Programme",
    "World Health Organization", "WHO", "African Development Bank", "AfDB", "Asian Development Bank",
    "ADB", "Asian Infrastructure Investment Bank", "AIIB", "Inter-American Development Bank", "IDB",
    "IDB Invest", "CAF", "Development Bank of Latin America", "Islamic Development Bank", "IsDB",
    "New Development Bank", "West African Development Bank", "BOAD", "East African Development Bank",
    "Caribbean Development Bank", "Council of Europe Development Bank", "Nordic Investment Bank",
    "KfW", "GIZ", "JICA", "KOICA", "USAID", "AFD", "Agence Française de Développement", "Proparco",
    "FMO", "DFID", "FCDO", "Sida", "Danida", "Norad", "Global Environment Facility", "GEF",
    "Green Climate Fund", "C40", "ICLEI", "OECD", "Bloomberg Philanthropies",
    "European Regional Development Fund", "ERDF", "Cohesion Fund", "Connecting Europe Facility",
    "Korea International Cooperation Agency", "Japan International Cooperation Agency",
    "Deutsche Gesellschaft für Internationale Zusammenarbeit", "International Labour Organization",
    "UN-Habitat", "UNCDF", "UNOPS", "WFP", "FAO", "UNHCR", "Gates Foundation", "World Economic Forum",
    "Asian Development Bank Institute", "European Space Agency", "ESA", "NATO", "African Union",
    "ASEAN", "Mercosur", "OPEC Fund", "Arab Fund", "Kuwait Fund", "Saudi Fund for Development",
    "Abu Dhabi Fund for Development", "China Development Bank", "Export-Import Bank of China",
    "JBIC", "US International Development Finance Corporation", "DFC", "British International Investment",
    "Swiss Agency for Development and Cooperation", "SECO", "Expertise France", "Enabel", "UKEF",
    "Euler Hermes", "Global Infrastructure Facility", "Cities Alliance", "Rockefeller Foundation",
]  # fmt: skip
INTERNATIONAL_WORDS = {
    "multilateral", "development finance institution", "export credit agency", "donor", "donors",
    "embassy", "international organization", "international organisation", "development bank",
    "development partner", "development partners", "foreign government", "bilateral",
}  # fmt: skip

# Leading words dropped from a stakeholder's name (kept in its mentions' offsets only when inside).
STRIP_LEADING = {"the", "its", "their", "our", "his", "her", "this", "these", "those", "that", "such"}


def build_head_matcher(nlp: Language) -> Matcher:
    """A token Matcher for actor head nouns ("firms", "residents", "Ministry") and known anaphors."""
    matcher = Matcher(nlp.vocab)
    matcher.add("ACTOR_HEAD", [[{"LOWER": {"IN": sorted(ACTOR_HEADS)}, "TAG": {"IN": ["NN", "NNS", "NNP", "NNPS"]}}]])
    return matcher


COMPANY_FORMS = {
    "ltd", "ltd.", "limited", "plc", "inc", "inc.", "llc", "gmbh", "s.a.", "sarl", "s.p.a.", "b.v.", "n.v.",
    "a/s", "asa", "oyj", "kft", "kft.", "s.r.o.", "sro", "s.r.l.", "srl", "ltda", "ltda.", "s.a.s.", "jsc",
    "pjsc", "llp", "pte", "bhd", "co.", "corp", "corp.", "k.s.c.c.", "ead", "ood", "d.o.o.", "spółka", "s.l.",
    "s.a.u.", "pvt", "spa",
}  # fmt: skip
# Short legal forms that are also English words or initials: matched only in capitals ("Nordvarme AS").
COMPANY_FORMS_UPPER = {"AS", "AB", "AG", "SA", "SE", "BV", "NV", "OY", "SL", "KG", "CV", "SAS", "SpA", "AD", "DOO"}


def build_company_matcher(nlp: Language) -> Matcher:
    """Capitalised words followed by a legal form: "Elbsieb GmbH", "Rose Quarter Properties LLC"."""
    matcher = Matcher(nlp.vocab)
    name = {"TEXT": {"REGEX": r"^[A-Z][\w&'.-]*$"}, "OP": "+"}
    caps = {"IS_UPPER": True, "LENGTH": {">=": 2}, "OP": "+"}
    joiner = {"LOWER": {"IN": ["de", "del", "di", "da", "&", "-", "von", "van"]}, "OP": "?"}
    pty = {"LOWER": {"IN": ["(", "(pty", "pty", ")", "pvt", "private", "rf"]}, "OP": "*"}
    patterns = []
    for form in ({"LOWER": {"IN": sorted(COMPANY_FORMS)}}, {"ORTH": {"IN": sorted(COMPANY_FORMS_UPPER)}}):
        patterns += [[name, joiner, {"TEXT": {"REGEX": r"^[A-Z]"}, "OP": "*"}, pty, form], [caps, pty, form]]
    matcher.add("COMPANY", patterns, greedy="LONGEST")
    # "Ayuntamiento de Mérida", "Universidad Católica del Norte": the head comes first
    heads = sorted(FOREIGN_HEADS)
    connector = {"LOWER": {"IN": ["de", "del", "des", "du", "da", "do", "di", "d'", "della", "dos", "das", "la", "le",
                                  "el", "y", "e", "et", "für", "der"]}, "OP": "*"}  # fmt: skip
    capital = {"TEXT": {"REGEX": r"^[A-ZÀ-Ý]"}}
    matcher.add(
        "FOREIGN",
        [[{"LOWER": {"IN": heads}, "TEXT": {"REGEX": r"^[A-ZÀ-Ý]"}}, connector, capital,
          {"TEXT": {"REGEX": r"^[A-ZÀ-Ý]"}, "OP": "*"}, connector, {"TEXT": {"REGEX": r"^[A-ZÀ-Ý]"}, "OP": "*"}]],
        greedy="LONGEST",
    )  # fmt: skip
    return matcher


def build_international_matcher(nlp: Language) -> PhraseMatcher:
    """A PhraseMatcher for international organizations that NER misses or mislabels."""
    matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
    names = sorted(set(INTERNATIONAL_NAMES))
    matcher.add("INTERNATIONAL", [nlp.make_doc(n) for n in names])
    return matcher
