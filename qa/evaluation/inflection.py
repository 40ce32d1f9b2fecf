"""English verb forms for generated claims: a lemma in the form a Penn tag asks for; pure."""

from __future__ import annotations

import re

# lemma -> (past, past participle)
IRREGULAR = {
    "win": ("won", "won"), "lose": ("lost", "lost"), "lead": ("led", "led"), "become": ("became", "become"),
    "begin": ("began", "begun"), "take": ("took", "taken"), "make": ("made", "made"), "give": ("gave", "given"),
    "find": ("found", "found"), "hold": ("held", "held"), "leave": ("left", "left"), "meet": ("met", "met"),
    "pay": ("paid", "paid"), "send": ("sent", "sent"), "tell": ("told", "told"), "write": ("wrote", "written"),
    "build": ("built", "built"), "buy": ("bought", "bought"), "bring": ("brought", "brought"),
    "come": ("came", "come"), "go": ("went", "gone"), "see": ("saw", "seen"), "rise": ("rose", "risen"),
    "fall": ("fell", "fallen"), "grow": ("grew", "grown"), "know": ("knew", "known"), "sell": ("sold", "sold"),
    "spend": ("spent", "spent"), "stand": ("stood", "stood"), "choose": ("chose", "chosen"),
    "drive": ("drove", "driven"), "run": ("ran", "run"), "say": ("said", "said"), "think": ("thought", "thought"),
    "fight": ("fought", "fought"), "teach": ("taught", "taught"), "beat": ("beat", "beaten"),
    "strike": ("struck", "struck"), "keep": ("kept", "kept"), "hear": ("heard", "heard"),
    "mean": ("meant", "meant"), "shrink": ("shrank", "shrunk"), "forget": ("forgot", "forgotten"),
    "cut": ("cut", "cut"), "quit": ("quit", "quit"), "forbid": ("forbade", "forbidden"), "bar": ("barred", "barred"),
    "put": ("put", "put"), "set": ("set", "set"), "let": ("let", "let"), "read": ("read", "read"),
    "draw": ("drew", "drawn"), "show": ("showed", "shown"), "break": ("broke", "broken"), "speak": ("spoke", "spoken"),
    "eat": ("ate", "eaten"), "feel": ("felt", "felt"), "get": ("got", "got"), "have": ("had", "had"),
    "do": ("did", "done"), "be": ("was", "been"), "sing": ("sang", "sung"), "throw": ("threw", "thrown"),
    "wear": ("wore", "worn"), "steal": ("stole", "stolen"), "hide": ("hid", "hidden"), "ride": ("rode", "ridden"),
    "shoot": ("shot", "shot"), "lay": ("laid", "laid"), "seek": ("sought", "sought"), "catch": ("caught", "caught"),
    "bear": ("bore", "born"), "freeze": ("froze", "frozen"), "sink": ("sank", "sunk"), "swim": ("swam", "swum"),
    "feed": ("fed", "fed"), "hang": ("hung", "hung"), "lend": ("lent", "lent"), "bind": ("bound", "bound"),
    "light": ("lit", "lit"), "dig": ("dug", "dug"), "split": ("split", "split"), "spread": ("spread", "spread"),
    "cast": ("cast", "cast"), "hit": ("hit", "hit"), "hurt": ("hurt", "hurt"), "cost": ("cost", "cost"),
    "understand": ("understood", "understood"), "withdraw": ("withdrew", "withdrawn"), "overcome": ("overcame", "overcome"),
}
_DOUBLED = re.compile(r"[^aeiou][aeiou][bdgklmnprt]$")


def inflect(lemma: str, tag: str) -> str:
    """Return `lemma` (a phrasal one too: "rule out") in the form of Penn tag `tag` (VBD, VBN, VBZ, VBG, VB)."""
    verb, _, particle = lemma.partition(" ")
    form = _form(verb, tag)
    return f"{form} {particle}" if particle else form


def _form(verb: str, tag: str) -> str:
    if tag == "VBD":
        return IRREGULAR[verb][0] if verb in IRREGULAR else _regular_past(verb)
    if tag == "VBN":
        return IRREGULAR[verb][1] if verb in IRREGULAR else _regular_past(verb)
    if tag == "VBZ":
        if verb in ("be", "have", "do", "go"):
            return {"be": "is", "have": "has", "do": "does", "go": "goes"}[verb]
        if re.search(r"(s|sh|ch|x|z|o)$", verb):
            return verb + "es"
        if re.search(r"[^aeiou]y$", verb):
            return verb[:-1] + "ies"
        return verb + "s"
    if tag == "VBG":
        if verb.endswith("ie"):
            return verb[:-2] + "ying"
        if verb.endswith("e") and not verb.endswith("ee"):
            return verb[:-1] + "ing"
        if _DOUBLED.search(verb) and len(verb) <= 4:
            return verb + verb[-1] + "ing"
        return verb + "ing"
    return verb


def _regular_past(verb: str) -> str:
    if verb.endswith("e"):
        return verb + "d"
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ied"
    if _DOUBLED.search(verb) and len(verb) <= 4:
        return verb + verb[-1] + "ed"
    return verb + "ed"
