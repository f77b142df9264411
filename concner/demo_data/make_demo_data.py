"""Generate ConCNER's small demo corpus (English source, German translation, German unlabelled and test text).

The sentences are written for this project: bilingual sentence templates (English + German, same entity slots)
filled with invented or generic names of people, companies, clubs, institutions, events and products and with real
place names. The output is deterministic for a given seed, so the committed files can be checked byte for byte::

    python concner/demo_data/make_demo_data.py                 # rewrite the files next to this script
    python concner/demo_data/make_demo_data.py --output_dir D  # write them elsewhere

Files (CoNLL 2-column ``token TAG``, IOB2, a blank line after every sentence, UTF-8):

- ``en_train.txt``       English source sentences (D_SRC)
- ``en_dev.txt``         English dev sentences (model selection on the source language)
- ``de_translation.txt`` German translation of ``en_train.txt``, sentence i <-> i, entity types carried over (D_TGT)
- ``de_unlabeled.txt``   German sentences, one per line, whitespace tokenised, no labels (D_U)
- ``de_test.txt``        German test sentences (new sentences; a quarter of the entity pools is held out of
  training and half of the test slots draw from that held-out part)

Template syntax: tokens are separated by single spaces; ``{KIND<n>}`` or ``{KIND<n>.form}`` is an entity slot
(``n`` distinguishes two slots of the same kind in one sentence, ``form`` picks a grammatical form such as the German
dative); ``{DAY}``, ``{NUM}`` ... are unlabelled fillers; ``[P1:der_Minister|die_Ministerin]`` picks words by the
grammatical gender of person ``P1`` (underscores become spaces). In a form string, text before ``|`` is an article
outside the entity (tag ``O``), text after it is the entity.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from concner.io_utils import atomic_write_text

SEED = 20240617
SIZES = {"train": 240, "dev": 60, "test": 100, "unlabeled": 300}
HELDOUT_EVERY = 4  # every 4th entry of each pool is held out of the training data
DEV_HELDOUT_RATE = 0.2
TEST_HELDOUT_RATE = 0.5

# --------------------------------------------------------------------------- entity pools

FIRST_NAMES = [
    ("Thomas", "m"),
    ("Anna", "f"),
    ("Lukas", "m"),
    ("Sophie", "f"),
    ("Pierre", "m"),
    ("Claire", "f"),
    ("Marco", "m"),
    ("Elena", "f"),
    ("Javier", "m"),
    ("Lucía", "f"),
    ("Piotr", "m"),
    ("Katarzyna", "f"),
    ("Lars", "m"),
    ("Ingrid", "f"),
    ("Mehmet", "m"),
    ("Aylin", "f"),
    ("Kenji", "m"),
    ("Yuki", "f"),
    ("Rahul", "m"),
    ("Priya", "f"),
    ("Chidi", "m"),
    ("Amara", "f"),
    ("Diego", "m"),
    ("Marta", "f"),
    ("Stefan", "m"),
    ("Julia", "f"),
    ("Ahmed", "m"),
    ("Fatima", "f"),
    ("Mikael", "m"),
    ("Astrid", "f"),
    ("Tomás", "m"),
    ("Chiara", "f"),
    ("Dmitri", "m"),
    ("Olga", "f"),
    ("Olivier", "m"),
    ("Camille", "f"),
    ("Kwame", "m"),
    ("Nadia", "f"),
    ("Henrik", "m"),
    ("Greta", "f"),
    ("Felix", "m"),
    ("Zofia", "f"),
    ("Jean-Luc", "m"),
    ("Hanna", "f"),
    ("Omar", "m"),
    ("Leila", "f"),
    ("Sven", "m"),
    ("Mei", "f"),
]
LAST_NAMES = [
    "Becker",
    "Hoffmann",
    "Lefèvre",
    "Rossi",
    "García",
    "Nowak",
    "Jansen",
    "Lindqvist",
    "Yılmaz",
    "Tanaka",
    "Sharma",
    "Okafor",
    "Fernández",
    "Weber",
    "Haddad",
    "Virtanen",
    "Novák",
    "Andersen",
    "Petrov",
    "Dubois",
    "Bianchi",
    "Mensah",
    "Kowalski",
    "Schneider",
    "Moreau",
    "Silva",
    "Costa",
    "Brandt",
    "Keller",
    "Vogel",
    "Nilsson",
    "Horvat",
    "Popescu",
    "Papadopoulos",
    "Murphy",
    "O'Brien",
    "Kaya",
    "Suzuki",
    "Chen",
    "Mwangi",
    "Santos",
    "Hartmann",
    "Lorenz",
    "Janssens",
    "De Vries",
    "van Dijk",
    "Halvorsen",
    "Szabó",
    "Eriksson",
    "Marković",
]
# (English, German)
CITIES = [
    ("Berlin", "Berlin"),
    ("Munich", "München"),
    ("Cologne", "Köln"),
    ("Hamburg", "Hamburg"),
    ("Vienna", "Wien"),
    ("Zurich", "Zürich"),
    ("Rome", "Rom"),
    ("Warsaw", "Warschau"),
    ("Prague", "Prag"),
    ("Lisbon", "Lissabon"),
    ("Brussels", "Brüssel"),
    ("Athens", "Athen"),
    ("Copenhagen", "Kopenhagen"),
    ("Geneva", "Genf"),
    ("Milan", "Mailand"),
    ("Naples", "Neapel"),
    ("The Hague", "Den Haag"),
    ("Paris", "Paris"),
    ("London", "London"),
    ("Madrid", "Madrid"),
    ("Lyon", "Lyon"),
    ("Oslo", "Oslo"),
    ("Stockholm", "Stockholm"),
    ("Helsinki", "Helsinki"),
    ("Dublin", "Dublin"),
    ("Budapest", "Budapest"),
    ("Toronto", "Toronto"),
    ("Chicago", "Chicago"),
    ("Sydney", "Sydney"),
    ("Tokyo", "Tokio"),
    ("Cairo", "Kairo"),
    ("Istanbul", "Istanbul"),
    ("Nairobi", "Nairobi"),
    ("Lima", "Lima"),
    ("Seoul", "Seoul"),
    ("Mumbai", "Mumbai"),
    ("Dresden", "Dresden"),
    ("Leipzig", "Leipzig"),
    ("Stuttgart", "Stuttgart"),
    ("Frankfurt", "Frankfurt"),
    ("Bremen", "Bremen"),
    ("Hanover", "Hannover"),
    ("Nuremberg", "Nürnberg"),
    ("Graz", "Graz"),
    ("Salzburg", "Salzburg"),
    ("Basel", "Basel"),
    ("Bern", "Bern"),
    ("Krakow", "Krakau"),
    ("Marseille", "Marseille"),
    ("Bordeaux", "Bordeaux"),
    ("Porto", "Porto"),
    ("Seville", "Sevilla"),
    ("Valencia", "Valencia"),
    ("Rotterdam", "Rotterdam"),
    ("Antwerp", "Antwerpen"),
    ("Ghent", "Gent"),
    ("Bergen", "Bergen"),
    ("Gothenburg", "Göteborg"),
    ("Tampere", "Tampere"),
    ("Edinburgh", "Edinburgh"),
    ("Manchester", "Manchester"),
    ("Montreal", "Montreal"),
    ("Melbourne", "Melbourne"),
    ("Osaka", "Osaka"),
    ("Lagos", "Lagos"),
    ("New York", "New York"),
    ("Rio de Janeiro", "Rio de Janeiro"),
    ("Buenos Aires", "Buenos Aires"),
    ("Cape Town", "Kapstadt"),
    ("Tel Aviv", "Tel Aviv"),
    ("San Francisco", "San Francisco"),
    ("Kiel", "Kiel"),
    ("Innsbruck", "Innsbruck"),
    ("Lucerne", "Luzern"),
]
COUNTRIES = [
    ("Germany", "Deutschland"),
    ("France", "Frankreich"),
    ("Italy", "Italien"),
    ("Spain", "Spanien"),
    ("Poland", "Polen"),
    ("Japan", "Japan"),
    ("China", "China"),
    ("Brazil", "Brasilien"),
    ("Canada", "Kanada"),
    ("Sweden", "Schweden"),
    ("Norway", "Norwegen"),
    ("Denmark", "Dänemark"),
    ("Finland", "Finnland"),
    ("Austria", "Österreich"),
    ("Belgium", "Belgien"),
    ("Hungary", "Ungarn"),
    ("Portugal", "Portugal"),
    ("Greece", "Griechenland"),
    ("India", "Indien"),
    ("Mexico", "Mexiko"),
    ("Argentina", "Argentinien"),
    ("Chile", "Chile"),
    ("Kenya", "Kenia"),
    ("Egypt", "Ägypten"),
    ("Australia", "Australien"),
    ("South Korea", "Südkorea"),
    ("Ireland", "Irland"),
    ("Romania", "Rumänien"),
    ("Croatia", "Kroatien"),
    ("Morocco", "Marokko"),
    ("Peru", "Peru"),
    ("Colombia", "Kolumbien"),
    ("New Zealand", "Neuseeland"),
    ("Iceland", "Island"),
    ("Estonia", "Estland"),
    ("Lithuania", "Litauen"),
    ("Slovenia", "Slowenien"),
    ("Nigeria", "Nigeria"),
    ("Ghana", "Ghana"),
    ("Vietnam", "Vietnam"),
]
REGIONS = [
    ("Bavaria", "Bayern"),
    ("Saxony", "Sachsen"),
    ("Catalonia", "Katalonien"),
    ("California", "Kalifornien"),
    ("Texas", "Texas"),
    ("Siberia", "Sibirien"),
    ("Andalusia", "Andalusien"),
    ("Scotland", "Schottland"),
    ("Tyrol", "Tirol"),
    ("Flanders", "Flandern"),
    ("Carinthia", "Kärnten"),
    ("Brandenburg", "Brandenburg"),
    ("Hesse", "Hessen"),
    ("Ontario", "Ontario"),
    ("Lower Saxony", "Niedersachsen"),
    ("Sicily", "Sizilien"),
    ("Lapland", "Lappland"),
    ("Patagonia", "Patagonien"),
    ("Bohemia", "Böhmen"),
    ("Styria", "Steiermark"),
]
COMPANIES = [
    "Veltrana",
    "Brightwater Energy",
    "Kestrel Air",
    "Solvana Pharma",
    "Halberg Maschinenbau",
    "Tessaro Motors",
    "Bluefjord Seafood",
    "Arcturus Software",
    "Mellor & Finch",
    "Grauwald Bau",
    "Orion Mobile",
    "Quantis Bank",
    "Lindqvist Shipping",
    "Ferrante Group",
    "Caldera Mining",
    "Nexaro Systems",
    "Rheinstahl Werke",
    "Polaris Insurance",
    "Vantec Robotics",
    "Silbermann Verlag",
    "Hansa Textil",
    "Altamira Foods",
    "Stellwerk Digital",
    "Bergmann Chemie",
    "Okafor Telecom",
    "Kaito Electronics",
    "Marlow Brewing",
    "Danube Freight",
    "Aurelia Hotels",
    "Tidewater Ports",
    "Nordlicht Solar",
    "Cobalt Ridge",
]
AIRLINES = ["Kestrel Air", "Aerovia", "Nordsky Airways", "Alpina Air", "Blue Heron Airlines", "Sunward Jet"]
CLUBS = [
    "FC Nordhafen",
    "SV Eichwald",
    "Racing Montclair",
    "Atlético Serrano",
    "Dynamo Karsk",
    "Union Altdorf",
    "Olympique Vallon",
    "Sporting Ribeira",
    "Rot-Weiß Kessel",
    "Borussia Tannberg",
    "Inter Calvino",
    "Real Ostara",
    "Kelby Rovers",
    "TSV Mühlbach",
    "Fortuna Seewald",
    "Slavia Brod",
    "Ajax Duinwijk",
    "Celtic Dunmore",
    "Spartak Volgin",
    "Lokomotive Kirchberg",
    "Viktoria Haldorf",
    "AFC Harwick",
]
MEDIA = [
    "Tagesbote",
    "Northern Herald",
    "Gazzetta di Lago",
    "Courrier du Nord",
    "Abendzeitung Süd",
    "Daily Meridian",
    "Rheinischer Anzeiger",
    "Diario Central",
    "Kurier am Main",
    "Baltic Observer",
]
PRODUCTS = [
    "Nimbus X2",
    "Aero 7",
    "Polaris One",
    "Kite S",
    "Vela Pro",
    "Orca 5G",
    "Lumen 3",
    "Zephyr Mini",
    "Atlas Note",
    "Juno 12",
]
# (English, German stem): German forms are the stem plus the ending the template asks for (e, en, es, er).
NATIONALITIES = [
    ("German", "deutsch"),
    ("French", "französisch"),
    ("Italian", "italienisch"),
    ("Spanish", "spanisch"),
    ("Polish", "polnisch"),
    ("Dutch", "niederländisch"),
    ("Swedish", "schwedisch"),
    ("Norwegian", "norwegisch"),
    ("Danish", "dänisch"),
    ("Finnish", "finnisch"),
    ("Austrian", "österreichisch"),
    ("Hungarian", "ungarisch"),
    ("Czech", "tschechisch"),
    ("Greek", "griechisch"),
    ("Portuguese", "portugiesisch"),
    ("Irish", "irisch"),
    ("British", "britisch"),
    ("Canadian", "kanadisch"),
    ("Mexican", "mexikanisch"),
    ("Brazilian", "brasilianisch"),
    ("Argentine", "argentinisch"),
    ("Japanese", "japanisch"),
    ("Chinese", "chinesisch"),
    ("South Korean", "südkoreanisch"),
    ("Indian", "indisch"),
    ("Australian", "australisch"),
    ("Kenyan", "kenianisch"),
    ("Egyptian", "ägyptisch"),
    ("Moroccan", "marokkanisch"),
    ("Chilean", "chilenisch"),
    ("Belgian", "belgisch"),
    ("Croatian", "kroatisch"),
    ("Romanian", "rumänisch"),
    ("Icelandic", "isländisch"),
    ("Estonian", "estnisch"),
    ("Turkish", "türkisch"),
    ("American", "amerikanisch"),
    ("Nigerian", "nigerianisch"),
    ("Scottish", "schottisch"),
    ("Slovenian", "slowenisch"),
]
# English form; German nominative/accusative, dative, genitive (article|entity).
ECON_INSTITUTIONS = [
    ("the|European Central Bank", "die|Europäische Zentralbank", "der|Europäischen Zentralbank", None),
    ("the|World Bank", "die|Weltbank", "der|Weltbank", None),
    ("the|European Commission", "die|EU-Kommission", "der|EU-Kommission", None),
    ("the|Bundesbank", "die|Bundesbank", "der|Bundesbank", None),
    (
        "the|International Energy Agency",
        "die|Internationale Energieagentur",
        "der|Internationalen Energieagentur",
        None,
    ),
    ("the|World Trade Organization", "die|Welthandelsorganisation", "der|Welthandelsorganisation", None),
    (
        "the|Nordic Investment Council",
        "der|Nordische Investitionsrat",
        "dem|Nordischen Investitionsrat",
        "des|Nordischen Investitionsrates",
    ),
    (
        "the|Central Statistics Office",
        "das|Zentrale Statistikamt",
        "dem|Zentralen Statistikamt",
        "des|Zentralen Statistikamtes",
    ),
    ("the|European Union", "die|EU", "der|EU", None),
    ("the|Federal Competition Authority", "die|Bundeswettbewerbsbehörde", "der|Bundeswettbewerbsbehörde", None),
]
OTHER_INSTITUTIONS = [
    ("the|World Health Organization", "die|Weltgesundheitsorganisation", "der|Weltgesundheitsorganisation", None),
    ("|NATO", "die|Nato", "der|Nato", None),
    ("|UEFA", "die|Uefa", "der|Uefa", None),
    ("the|Red Cross", "das|Rote Kreuz", "dem|Roten Kreuz", "des|Roten Kreuzes"),
    ("|Interpol", "|Interpol", "|Interpol", "von|Interpol"),
    ("the|Federal Transport Agency", "die|Bundesverkehrsagentur", "der|Bundesverkehrsagentur", None),
    ("the|Alpine Research Foundation", "die|Alpine Forschungsstiftung", "der|Alpinen Forschungsstiftung", None),
    ("the|Liberal Party", "die|Liberale Partei", "der|Liberalen Partei", None),
    ("the|Hanseatic University", "die|Hanseatische Universität", "der|Hanseatischen Universität", None),
    ("the|Green Alliance", "die|Grüne Allianz", "der|Grünen Allianz", None),
    ("the|Danube Shipping Authority", "die|Donauschifffahrtsbehörde", "der|Donauschifffahrtsbehörde", None),
    ("the|Social Democratic Party", "die|Sozialdemokratische Partei", "der|Sozialdemokratischen Partei", None),
]
# English form; German nominative, accusative, dative, genitive, "bei" + dative.
SPORT_EVENTS = [
    (
        "the|World Cup",
        "die|Weltmeisterschaft",
        "die|Weltmeisterschaft",
        "der|Weltmeisterschaft",
        "der|Weltmeisterschaft",
        "bei der|Weltmeisterschaft",
    ),
    (
        "the|European Championship",
        "die|Europameisterschaft",
        "die|Europameisterschaft",
        "der|Europameisterschaft",
        "der|Europameisterschaft",
        "bei der|Europameisterschaft",
    ),
    (
        "the|Olympic Games",
        "die|Olympischen Spiele",
        "die|Olympischen Spiele",
        "den|Olympischen Spielen",
        "der|Olympischen Spiele",
        "bei den|Olympischen Spielen",
    ),
    (
        "the|Paralympic Games",
        "die|Paralympischen Spiele",
        "die|Paralympischen Spiele",
        "den|Paralympischen Spielen",
        "der|Paralympischen Spiele",
        "bei den|Paralympischen Spielen",
    ),
    (
        "the|Winter Olympics",
        "die|Olympischen Winterspiele",
        "die|Olympischen Winterspiele",
        "den|Olympischen Winterspielen",
        "der|Olympischen Winterspiele",
        "bei den|Olympischen Winterspielen",
    ),
    (
        "the|Four Hills Tournament",
        "die|Vierschanzentournee",
        "die|Vierschanzentournee",
        "der|Vierschanzentournee",
        "der|Vierschanzentournee",
        "bei der|Vierschanzentournee",
    ),
    (
        "the|Commonwealth Games",
        "die|Commonwealth Games",
        "die|Commonwealth Games",
        "den|Commonwealth Games",
        "der|Commonwealth Games",
        "bei den|Commonwealth Games",
    ),
    (
        "the|Nordic World Ski Championships",
        "die|Nordische Ski-WM",
        "die|Nordische Ski-WM",
        "der|Nordischen Ski-WM",
        "der|Nordischen Ski-WM",
        "bei der|Nordischen Ski-WM",
    ),
    (
        "the|Baltic Sailing Week",
        "die|Baltische Segelwoche",
        "die|Baltische Segelwoche",
        "der|Baltischen Segelwoche",
        "der|Baltischen Segelwoche",
        "bei der|Baltischen Segelwoche",
    ),
    ("the|Alpine Cup", "der|Alpen-Cup", "den|Alpen-Cup", "dem|Alpen-Cup", "des|Alpen-Cups", "beim|Alpen-Cup"),
    (
        "the|Danube Regatta",
        "die|Donau-Regatta",
        "die|Donau-Regatta",
        "der|Donau-Regatta",
        "der|Donau-Regatta",
        "bei der|Donau-Regatta",
    ),
    (
        "the|World Athletics Championships",
        "die|Leichtathletik-WM",
        "die|Leichtathletik-WM",
        "der|Leichtathletik-WM",
        "der|Leichtathletik-WM",
        "bei der|Leichtathletik-WM",
    ),
]
# English form; German nominative, accusative, dative, genitive.
CULTURE_EVENTS = [
    (
        "the|Frankfurt Book Fair",
        "die|Frankfurter Buchmesse",
        "die|Frankfurter Buchmesse",
        "der|Frankfurter Buchmesse",
        "der|Frankfurter Buchmesse",
    ),
    (
        "the|Leipzig Book Fair",
        "die|Leipziger Buchmesse",
        "die|Leipziger Buchmesse",
        "der|Leipziger Buchmesse",
        "der|Leipziger Buchmesse",
    ),
    ("the|Berlin Film Festival", "die|Berlinale", "die|Berlinale", "der|Berlinale", "der|Berlinale"),
    (
        "the|Venice Biennale",
        "die|Biennale von Venedig",
        "die|Biennale von Venedig",
        "der|Biennale von Venedig",
        "der|Biennale von Venedig",
    ),
    (
        "the|Salzburg Festival",
        "die|Salzburger Festspiele",
        "die|Salzburger Festspiele",
        "den|Salzburger Festspielen",
        "der|Salzburger Festspiele",
    ),
    (
        "the|Vienna Festival",
        "die|Wiener Festwochen",
        "die|Wiener Festwochen",
        "den|Wiener Festwochen",
        "der|Wiener Festwochen",
    ),
    (
        "the|Cannes Film Festival",
        "die|Filmfestspiele von Cannes",
        "die|Filmfestspiele von Cannes",
        "den|Filmfestspielen von Cannes",
        "der|Filmfestspiele von Cannes",
    ),
    (
        "the|Nordic Jazz Days",
        "die|Nordischen Jazztage",
        "die|Nordischen Jazztage",
        "den|Nordischen Jazztagen",
        "der|Nordischen Jazztage",
    ),
    (
        "the|Rhine Music Week",
        "die|Rheinische Musikwoche",
        "die|Rheinische Musikwoche",
        "der|Rheinischen Musikwoche",
        "der|Rheinischen Musikwoche",
    ),
    (
        "the|Alpine Film Days",
        "die|Alpinen Filmtage",
        "die|Alpinen Filmtage",
        "den|Alpinen Filmtagen",
        "der|Alpinen Filmtage",
    ),
    (
        "the|Baltic Theatre Days",
        "die|Baltischen Theatertage",
        "die|Baltischen Theatertage",
        "den|Baltischen Theatertagen",
        "der|Baltischen Theatertage",
    ),
    (
        "the|Lucerne Festival",
        "das|Lucerne Festival",
        "das|Lucerne Festival",
        "dem|Lucerne Festival",
        "des|Lucerne Festivals",
    ),
    (
        "the|Edinburgh Festival",
        "das|Edinburgh Festival",
        "das|Edinburgh Festival",
        "dem|Edinburgh Festival",
        "des|Edinburgh Festivals",
    ),
]
# English form; German accusative.
AWARDS = [
    ("the|Nobel Prize in Literature", "den|Literaturnobelpreis"),
    ("the|Booker Prize", "den|Booker Prize"),
    ("the|Golden Bear", "den|Goldenen Bären"),
    ("the|Golden Lion", "den|Goldenen Löwen"),
    ("the|Pulitzer Prize", "den|Pulitzer-Preis"),
    ("the|Prix Goncourt", "den|Prix Goncourt"),
    ("the|Hansa Media Prize", "den|Hansa-Medienpreis"),
    ("the|European Architecture Award", "den|Europäischen Architekturpreis"),
]

DAYS = [
    ("Monday", "Montag"),
    ("Tuesday", "Dienstag"),
    ("Wednesday", "Mittwoch"),
    ("Thursday", "Donnerstag"),
    ("Friday", "Freitag"),
    ("Saturday", "Samstag"),
    ("Sunday", "Sonntag"),
]
MONTHS = [
    ("January", "Januar"),
    ("February", "Februar"),
    ("March", "März"),
    ("April", "April"),
    ("May", "Mai"),
    ("June", "Juni"),
    ("July", "Juli"),
    ("August", "August"),
    ("September", "September"),
    ("October", "Oktober"),
    ("November", "November"),
    ("December", "Dezember"),
]
WIN_SCORES = [
    ("1-0", "1:0"),
    ("2-0", "2:0"),
    ("2-1", "2:1"),
    ("3-1", "3:1"),
    ("3-2", "3:2"),
    ("4-0", "4:0"),
    ("4-2", "4:2"),
    ("5-1", "5:1"),
]
DRAW_SCORES = [("0-0", "0:0"), ("1-1", "1:1"), ("2-2", "2:2"), ("3-3", "3:3")]

# --------------------------------------------------------------------------- templates

# (English, German). Each pair has the same entity slots.
BILINGUAL_TEMPLATES = [
    (
        "{P1} , the chief executive of {O1} , said on {DAY} that the company would open a new plant in {C1} .",
        "{P1} , [P1:der_Vorstandschef|die_Vorstandschefin] von {O1} , sagte am {DAY} , das Unternehmen werde "
        "ein neues Werk in {C1} eröffnen .",
    ),
    (
        "{F1} beat {F2} {SCORE} on {DAY} and moved to the top of the table .",
        "{F1} besiegte am {DAY} {F2} mit {SCORE} und übernahm die Tabellenführung .",
    ),
    (
        "The {A1} government announced new rules for rail freight on {DAY} .",
        "Die {A1.e} Regierung kündigte am {DAY} neue Regeln für den Güterverkehr auf der Schiene an .",
    ),
    (
        "Heavy rain caused flooding in parts of {R1} , and several roads near {C1} were closed .",
        "Starker Regen sorgte in Teilen von {R1} für Überschwemmungen , mehrere Straßen bei {C1} wurden gesperrt .",
    ),
    (
        "Shares in {O1} rose {PCT} percent after the company reported higher profits .",
        "Die Aktien von {O1} stiegen um {PCT} Prozent , nachdem das Unternehmen höhere Gewinne gemeldet hatte .",
    ),
    (
        "{P1} will travel to {K1} next week for talks with {P2} .",
        "{P1} reist nächste Woche nach {K1} , um mit {P2} zu verhandeln .",
    ),
    (
        "The talks will resume on {DAY} after a break of {FEW} days .",
        "Die Gespräche werden am {DAY} nach einer Pause von {FEW} Tagen fortgesetzt .",
    ),
    (
        "{IE1} expects the economy of {K1} to grow by {PCT} percent this year .",
        "{IE1.nom} rechnet für {K1} in diesem Jahr mit einem Wachstum von {PCT} Prozent .",
    ),
    (
        "{P1.last} scored twice as {F1} won {SCORE} in {C1} .",
        "{P1.last} erzielte zwei Tore , als {F1} in {C1} mit {SCORE} gewann .",
    ),
    (
        "Police in {C1} arrested two men on {DAY} after a robbery at a jewellery shop .",
        "Die Polizei in {C1} nahm am {DAY} nach einem Überfall auf ein Juweliergeschäft zwei Männer fest .",
    ),
    (
        "{P1} has been appointed as the new coach of {F1} .",
        "{P1} ist zum neuen [P1:Trainer|Trainerin] von {F1} ernannt worden .",
    ),
    (
        "The {A1} airline {AL1} cancelled {NUM} flights because of the strike .",
        "Die {A1.e} Fluggesellschaft {AL1} strich wegen des Streiks {NUM} Flüge .",
    ),
    ("{P1} finished third for {K1} at {ES1} .", "{P1} belegte {ES1.bei} für {K1} den dritten Platz ."),
    (
        "{P1} , who was born in {C1} , now lives in {C2} .",
        "{P1} , [P1:der|die] in {C1} geboren wurde , lebt heute in {C2} .",
    ),
    (
        "The trial of a former manager of {O1} opened in {C1} on {DAY} .",
        "In {C1} hat am {DAY} der Prozess gegen einen früheren Manager von {O1} begonnen .",
    ),
    (
        "{O1} agreed to buy its {A1} rival {O2} for {MIO} million euros .",
        "{O1} hat sich bereit erklärt , den {A1.en} Konkurrenten {O2} für {MIO} Millionen Euro zu kaufen .",
    ),
    (
        "More than {MANY} people attended the opening of {EC1} on {DAY} .",
        "Mehr als {MANY} Menschen kamen am {DAY} zur Eröffnung {EC1.gen} .",
    ),
    ("{P1} received {AW1} on {DAY} .", "{P1} erhielt am {DAY} {AW1.acc} ."),
    (
        "{P1} told reporters in {C1} that {K1} would not change its position .",
        "{P1} sagte Journalisten in {C1} , {K1} werde seine Haltung nicht ändern .",
    ),
    (
        "{P1} and {P2} will meet in {C1} to discuss trade between {K1} and {K2} .",
        "{P1} und {P2} treffen sich in {C1} , um über den Handel zwischen {K1} und {K2} zu sprechen .",
    ),
    (
        "Unemployment in {K1} fell to {PCT} percent in {MONTH} .",
        "Die Arbeitslosigkeit in {K1} ist im {MONTH} auf {PCT} Prozent gesunken .",
    ),
    (
        "{O1} plans to cut {NUM} jobs at its headquarters in {C1} .",
        "{O1} will in der Zentrale in {C1} {NUM} Stellen streichen .",
    ),
    (
        "Fans of {F1} celebrated in the streets of {C1} until late at night .",
        "Die Fans von {F1} feierten bis spät in die Nacht auf den Straßen von {C1} .",
    ),
    (
        "The {A1} striker {P1} signed a three-year contract with {F1} .",
        "[P1:Der|Die] {A1.e} [P1:Stürmer|Stürmerin] {P1} unterschrieb einen Dreijahresvertrag bei {F1} .",
    ),
    (
        "A spokesman for {IG1} declined to comment on the report .",
        "Ein Sprecher {IG1.gen} wollte sich zu dem Bericht nicht äußern .",
    ),
    (
        "{P1} , a doctor from {C1} , has been missing since {DAY} .",
        "{P1} , [P1:ein_Arzt|eine_Ärztin] aus {C1} , wird seit {DAY} vermisst .",
    ),
    (
        "Temperatures in {C1} reached {TEMP} degrees on {DAY} , the highest since records began .",
        "In {C1} wurden am {DAY} {TEMP} Grad gemessen , so viel wie nie seit Beginn der Aufzeichnungen .",
    ),
    (
        "{O1} and {O2} will build a joint battery factory near {C1} .",
        "{O1} und {O2} wollen gemeinsam eine Batteriefabrik bei {C1} bauen .",
    ),
    (
        "The {A1} national team arrived in {C1} for {ES1} on {DAY} .",
        "Die {A1.e} Nationalmannschaft ist am {DAY} für {ES1.acc} in {C1} eingetroffen .",
    ),
    ("{P1.last} said the decision was a mistake .", "{P1.last} nannte die Entscheidung einen Fehler ."),
    ("Voters in {R1} go to the polls on {DAY} .", "In {R1} wird am {DAY} gewählt ."),
    (
        "{P1} of {IE1} warned that prices could rise again in {MONTH} .",
        "{P1} von {IE1.dat} warnte , die Preise könnten im {MONTH} wieder steigen .",
    ),
    (
        "The museum in {C1} will show paintings by {P1} from {MONTH} .",
        "Das Museum in {C1} zeigt ab {MONTH} Gemälde von {P1} .",
    ),
    (
        "{F1} drew {DRAW} with {F2} , and coach {P1} was sent off .",
        "{F1} spielte {DRAW} gegen {F2} , [P1:Trainer|Trainerin] {P1} sah die Rote Karte .",
    ),
    (
        "The {A1} foreign minister {P1} arrived in {C1} on {DAY} .",
        "[P1:Der|Die] {A1.e} [P1:Außenminister|Außenministerin] {P1} ist am {DAY} in {C1} eingetroffen .",
    ),
    (
        "Engineers at {O1} in {C1} have developed a cheaper solar panel .",
        "Ingenieure von {O1} in {C1} haben eine günstigere Solarzelle entwickelt .",
    ),
    (
        "Train services between {C1} and {C2} were suspended after a storm .",
        "Der Zugverkehr zwischen {C1} und {C2} wurde nach einem Sturm eingestellt .",
    ),
    (
        "The new phone from {O1} , the {PR1} , goes on sale in {MONTH} .",
        "Das neue Telefon von {O1} , das {PR1} , kommt im {MONTH} in den Handel .",
    ),
    ("{IE1} approved the merger of {O1} and {O2} .", "{IE1.nom} hat die Fusion von {O1} und {O2} genehmigt ."),
    (
        "Prices for apartments in {C1} have doubled in ten years .",
        "Die Preise für Wohnungen in {C1} haben sich in zehn Jahren verdoppelt .",
    ),
    (
        "{P1} ( {K1} ) finished the race in second place , ahead of {P2} .",
        "{P1} ( {K1} ) kam im Rennen auf den zweiten Platz , vor {P2} .",
    ),
    ("Writers from {K1} dominated {EC1} this year .", "Autoren aus {K1} prägten in diesem Jahr {EC1.acc} ."),
    ("{P1} , {AGE} , grew up on a farm in {R1} .", "{P1} , {AGE} , wuchs auf einem Bauernhof in {R1} auf ."),
    (
        "The ministry said {FEW} {A1} tourists were injured in the accident near {C1} .",
        "Nach Angaben des Ministeriums wurden bei dem Unfall nahe {C1} {FEW} {A1.e} Touristen verletzt .",
    ),
    (
        "{O1} reported a loss of {MIO} million dollars for the second quarter .",
        "{O1} meldete für das zweite Quartal einen Verlust von {MIO} Millionen Dollar .",
    ),
    (
        "Negotiators from {IG1} and the government of {K1} reached an agreement late on {DAY} .",
        "Unterhändler {IG1.gen} und der Regierung von {K1} erzielten am {DAY} spät am Abend eine Einigung .",
    ),
    (
        "{P1.last} was named player of the match .",
        "{P1.last} wurde [P1:zum_Spieler|zur_Spielerin] des Spiels gewählt .",
    ),
    (
        "In {C1} , thousands of people protested against the new airport on {DAY} .",
        "In {C1} protestierten am {DAY} Tausende Menschen gegen den neuen Flughafen .",
    ),
    (
        "The company {O1} , based in {C1} , makes parts for {O2} .",
        "Das Unternehmen {O1} mit Sitz in {C1} stellt Teile für {O2} her .",
    ),
    (
        "It was the first time since {YEAR} that {K1} reached the final .",
        "Es war das erste Mal seit {YEAR} , dass {K1} das Finale erreichte .",
    ),
    (
        "Nobody was hurt , but {FEW} houses were damaged , the fire brigade said on {DAY} .",
        "Verletzt wurde niemand , aber {FEW} Häuser wurden beschädigt , teilte die Feuerwehr am {DAY} mit .",
    ),
    (
        "The weather service expects snow in {R1} and {R2} over the weekend .",
        "Der Wetterdienst erwartet am Wochenende Schnee in {R1} und {R2} .",
    ),
    (
        "{P1} told the newspaper {M1} that [P1:he|she] would not run again .",
        "{P1} sagte der Zeitung {M1} , [P1:er|sie] werde nicht erneut kandidieren .",
    ),
    (
        "The {A1} central bank left interest rates unchanged on {DAY} .",
        "Die {A1.e} Notenbank ließ die Zinsen am {DAY} unverändert .",
    ),
    ("{P1} and {P2} won the doubles title in {C1} .", "{P1} und {P2} gewannen in {C1} den Titel im Doppel ."),
    ("{O1} opened its first store in {K1} .", "{O1} hat das erste Geschäft in {K1} eröffnet ."),
    (
        "A court in {C1} fined {O1} {MIO} million euros for breaking competition rules .",
        "Ein Gericht in {C1} verurteilte {O1} wegen Verstößen gegen das Wettbewerbsrecht zu einer Strafe von {MIO} "
        "Millionen Euro .",
    ),
    (
        "{P1} , the mayor of {C1} , visited {C2} on {DAY} .",
        "{P1} , [P1:Bürgermeister|Bürgermeisterin] von {C1} , besuchte am {DAY} {C2} .",
    ),
    (
        "The government wants to present a budget of {MIO} billion euros in {MONTH} .",
        "Die Regierung will im {MONTH} einen Haushalt von {MIO} Milliarden Euro vorlegen .",
    ),
    (
        "Petrol prices rose by {PCT} percent in {MONTH} .",
        "Die Benzinpreise sind im {MONTH} um {PCT} Prozent gestiegen .",
    ),
    ("{P1} did not comment on the reports .", "{P1} äußerte sich nicht zu den Berichten ."),
    ("The match in {C1} was called off because of snow .", "Das Spiel in {C1} wurde wegen Schnee abgesagt ."),
    (
        "Shares in {O1} closed {PCT} percent lower on {DAY} .",
        "Die Aktie von {O1} schloss am {DAY} mit einem Minus von {PCT} Prozent .",
    ),
    ("Exports from {K1} grew strongly in {MONTH} .", "Die Exporte aus {K1} sind im {MONTH} kräftig gewachsen ."),
    (
        "The minister wants to spend {MIO} million euros more on schools .",
        "Der Minister will {MIO} Millionen Euro mehr für die Schulen ausgeben .",
    ),
    ("{P1} was a guest of honour at {EC1} this year .", "{P1} war in diesem Jahr Ehrengast {EC1.gen} ."),
    (
        "Police are still looking for the driver of the car , a spokeswoman said on {DAY} .",
        "Die Polizei sucht weiter nach dem Fahrer des Wagens , sagte eine Sprecherin am {DAY} .",
    ),
    (
        "Inflation rose to {PCT} percent in {MONTH} , the highest level in two years .",
        "Die Inflation stieg im {MONTH} auf {PCT} Prozent , den höchsten Stand seit zwei Jahren .",
    ),
    (
        "The hospital in {C1} will close its maternity ward at the end of {MONTH} .",
        "Das Krankenhaus in {C1} schließt Ende {MONTH} seine Geburtsstation .",
    ),
    ("{F1} have not won a home game since {MONTH} .", "{F1} hat seit {MONTH} kein Heimspiel mehr gewonnen ."),
    (
        "About {MANY} runners took part in the marathon in {C1} on {DAY} .",
        "Rund {MANY} Läuferinnen und Läufer nahmen am {DAY} am Marathon in {C1} teil .",
    ),
    (
        "Workers at {O1} went on strike for {FEW} hours on {DAY} .",
        "Die Beschäftigten von {O1} streikten am {DAY} für {FEW} Stunden .",
    ),
    ("{P1} resigned on {DAY} after {FEW} years in office .", "{P1} trat am {DAY} nach {FEW} Jahren im Amt zurück ."),
    (
        "The bridge over the river in {C1} will be closed for repairs until {MONTH} .",
        "Die Brücke über den Fluss in {C1} bleibt bis {MONTH} wegen Reparaturen gesperrt .",
    ),
    (
        "Rents rose by {PCT} percent last year , according to a housing report published on {DAY} .",
        "Die Mieten sind im vergangenen Jahr um {PCT} Prozent gestiegen , heißt es in einem am {DAY} "
        "veröffentlichten Wohnungsbericht .",
    ),
    (
        "The {A1} team won the gold medal in the relay .",
        "Die {A1.e} Mannschaft gewann die Goldmedaille in der Staffel .",
    ),
    ("{K1} will host the summit in {MONTH} .", "{K1} ist im {MONTH} Gastgeber des Gipfels ."),
    (
        "Thousands of passengers were stuck for {FEW} hours after a power failure on {DAY} .",
        "Nach einem Stromausfall saßen am {DAY} Tausende Fahrgäste {FEW} Stunden lang fest .",
    ),
    (
        "The new rules for drivers will apply from {MONTH} , the ministry said on {DAY} .",
        "Die neuen Regeln für Autofahrer gelten ab {MONTH} , teilte das Ministerium am {DAY} mit .",
    ),
    ("{P1.last} has been out injured since {MONTH} .", "{P1.last} ist seit {MONTH} verletzt ."),
    (
        "Sales of electric cars in {K1} doubled last year .",
        "Der Absatz von Elektroautos in {K1} hat sich im vergangenen Jahr verdoppelt .",
    ),
    (
        "The number of tourists rose by {PCT} percent in {MONTH} .",
        "Die Zahl der Touristen stieg im {MONTH} um {PCT} Prozent .",
    ),
    (
        "The fire broke out shortly after midnight on {DAY} and destroyed {FEW} cars .",
        "Das Feuer brach am {DAY} kurz nach Mitternacht aus und zerstörte {FEW} Autos .",
    ),
    (
        "{FEW} schools will stay closed until {DAY} because of the storm .",
        "{FEW} Schulen bleiben wegen des Sturms bis {DAY} geschlossen .",
    ),
]

# German-only templates: never translated, used for the test set and the unlabelled text only.
GERMAN_TEMPLATES = [
    "Nach Angaben {IE1.gen} ist die Inflation in {K1} leicht gesunken .",
    "{F1} verlor am {DAY} überraschend gegen {F2} .",
    "{P1} wurde in {C1} [P1:zum_neuen_Vorsitzenden|zur_neuen_Vorsitzenden] gewählt .",
    "Das {A1.e} Unternehmen {O1} eröffnet im {MONTH} ein Büro in {C1} .",
    "Die Ausstellung über {P1} ist noch bis {MONTH} in {C1} zu sehen .",
    "Der Flughafen von {C1} war wegen Nebels mehrere Stunden geschlossen .",
    "{P1} kritisierte die Pläne von {O1} scharf .",
    "Auch in {R1} wird mit Gewittern gerechnet .",
    "{P1.last} sprach von einem wichtigen Schritt für {K1} .",
    "Die Verhandlungen sollen im {MONTH} nach {FEW} Wochen Pause fortgesetzt werden .",
    "{O1} und {IG1.nom} haben eine Partnerschaft vereinbart .",
    "{A1.e} Forscher haben in {R1} eine neue Käferart entdeckt .",
    "{P1} startet {ES1.bei} für {K1} .",
    "Im Finale trifft {F1} auf {F2} .",
    "Der Zug aus {C1} hatte fast zwei Stunden Verspätung .",
    "{P1} leitet seit {YEAR} das Theater in {C1} .",
    "Das Wetter bleibt bis {DAY} unbeständig , die Temperaturen liegen bei {FEW} Grad .",
    "Die Firma {O1} sucht in {C1} dringend Fachkräfte .",
    "Laut einem Bericht der Zeitung {M1} will {O1} nach {K1} expandieren .",
    "[P1:Der|Die] {A1.e} [P1:Künstler|Künstlerin] {P1} trat auf {EC1.dat} auf .",
    "Zwischen {C1} und {C2} soll eine neue Schnellstrecke entstehen .",
    "Die Mannschaft von {F1} reist am {DAY} nach {C1} .",
    "Mit dem {PR1} will {O1} jüngere Kunden gewinnen .",
    "{P1} und {P2} wollen im {MONTH} heiraten .",
    "Die Feuerwehr war am {DAY} mit {FEW} Fahrzeugen im Einsatz .",
    "In {C1} fiel am {DAY} für mehrere Stunden der Strom aus .",
    "Die Zahl der Arbeitslosen ist im {MONTH} um {MANY} gestiegen .",
    "{P1} gilt als [P1:Favorit|Favoritin] für das Amt .",
    "Die Preise für Lebensmittel sind im {MONTH} um {PCT} Prozent gestiegen .",
    "Der Wettbewerb in {R1} wurde wegen des Sturms abgesagt .",
]

# --------------------------------------------------------------------------- the generator

_SLOT = re.compile(r"^\{([A-Z]+)(\d?)(?:\.(\w+))?\}$")
_GENDERED = re.compile(r"^\[([A-Z]+\d):([^|\]]*)\|([^\]]*)\]$")

LABELS = {
    "P": "PER",
    "C": "LOC",
    "K": "LOC",
    "R": "LOC",
    "O": "ORG",
    "AL": "ORG",
    "F": "ORG",
    "M": "ORG",
    "IE": "ORG",
    "IG": "ORG",
    "A": "MISC",
    "ES": "MISC",
    "EC": "MISC",
    "AW": "MISC",
    "PR": "MISC",
}
FILLERS = {"DAY", "MONTH", "NUM", "FEW", "MANY", "PCT", "MIO", "TEMP", "AGE", "YEAR", "SCORE", "DRAW"}


@dataclass(frozen=True)
class Entity:
    """One entity: its type and its surface forms (``"article|entity"``) per language and grammatical form."""

    label: str
    en: dict[str, str]
    de: dict[str, str]
    gender: str = "n"

    def key(self) -> str:
        return self.en[""] + " / " + self.de.get("", next(iter(self.de.values())))


def _forms(keys: Iterable[str], values: Iterable[str | None]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in zip(keys, values):
        if v is not None:
            out[k] = v
    return out


def build_pools() -> dict[str, list[Entity]]:
    """All entity pools, in a fixed order."""
    pools: dict[str, list[Entity]] = {}
    people = []
    for i, last in enumerate(LAST_NAMES):
        for j in (0, 17, 31):  # three first names per surname, spread over the list
            first, gender = FIRST_NAMES[(i * 7 + j) % len(FIRST_NAMES)]
            full = f"{first} {last}"
            people.append(Entity("PER", {"": full, "last": last}, {"": full, "last": last}, gender))
    pools["P"] = people
    pools["C"] = [Entity("LOC", {"": en}, {"": de}) for en, de in CITIES]
    pools["K"] = [Entity("LOC", {"": en}, {"": de}) for en, de in COUNTRIES]
    pools["R"] = [Entity("LOC", {"": en}, {"": de}) for en, de in REGIONS]
    pools["O"] = [Entity("ORG", {"": name}, {"": name}) for name in COMPANIES if name not in AIRLINES]
    pools["AL"] = [Entity("ORG", {"": name}, {"": name}) for name in AIRLINES]
    pools["F"] = [Entity("ORG", {"": name}, {"": name}) for name in CLUBS]
    pools["M"] = [Entity("ORG", {"": name}, {"": name}) for name in MEDIA]
    pools["PR"] = [Entity("MISC", {"": name}, {"": name}) for name in PRODUCTS]
    pools["A"] = [
        Entity("MISC", {"": en}, {"": stem + "e", **{e: stem + e for e in ("e", "en", "es", "er")}})
        for en, stem in NATIONALITIES
    ]
    for kind, table in (("IE", ECON_INSTITUTIONS), ("IG", OTHER_INSTITUTIONS)):
        pools[kind] = [
            Entity("ORG", {"": en}, _forms(("", "nom", "acc", "dat", "gen"), (nom, nom, nom, dat, gen or dat)))
            for en, nom, dat, gen in table
        ]
    pools["ES"] = [
        Entity("MISC", {"": row[0]}, _forms(("", "nom", "acc", "dat", "gen", "bei"), (row[1], *row[1:])))
        for row in SPORT_EVENTS
    ]
    pools["EC"] = [
        Entity("MISC", {"": row[0]}, _forms(("", "nom", "acc", "dat", "gen"), (row[1], *row[1:])))
        for row in CULTURE_EVENTS
    ]
    pools["AW"] = [Entity("MISC", {"": en}, {"": de, "acc": de}) for en, de in AWARDS]
    return pools


def split_pool(pool: list[Entity]) -> tuple[list[Entity], list[Entity]]:
    """(seen, held out): every HELDOUT_EVERY-th entity is kept out of the training and dev data.

    People are split by surname, so that a held-out person's surname never occurs in the training data.
    """
    surnames = list(dict.fromkeys(e.en.get("last", e.key()) for e in pool))
    held_names = {name for i, name in enumerate(surnames) if i % HELDOUT_EVERY == HELDOUT_EVERY - 1}
    seen = [e for e in pool if e.en.get("last", e.key()) not in held_names]
    held = [e for e in pool if e.en.get("last", e.key()) in held_names]
    return seen, held


def _filler(kind: str, rng: random.Random) -> tuple[str, str]:
    """(English, German) text of an unlabelled filler slot."""
    if kind == "DAY":
        return rng.choice(DAYS)
    if kind == "MONTH":
        return rng.choice(MONTHS)
    if kind == "SCORE":
        return rng.choice(WIN_SCORES)
    if kind == "DRAW":
        return rng.choice(DRAW_SCORES)
    low, high = {
        "NUM": (12, 900),
        "FEW": (2, 11),
        "MANY": (1500, 90000),
        "PCT": (2, 14),
        "MIO": (5, 950),
        "TEMP": (31, 42),
        "AGE": (23, 81),
        "YEAR": (1958, 2019),
    }[kind]
    value = str(rng.randint(low, high))
    return value, value


@dataclass
class Filling:
    """The entities and fillers chosen for one sentence."""

    entities: dict[str, Entity] = field(default_factory=dict)
    fillers: dict[str, tuple[str, str]] = field(default_factory=dict)


def slots_of(template: str) -> list[tuple[str, str]]:
    """(kind, instance key) of every entity slot in a template, in order of appearance."""
    out = []
    for token in template.split(" "):
        match = _SLOT.match(token)
        if match and match.group(1) not in FILLERS:
            out.append((match.group(1), match.group(1) + match.group(2)))
    return out


def choose(
    templates: list[str],
    pools: dict[str, list[Entity]],
    held: dict[str, list[Entity]],
    heldout_rate: float,
    rng: random.Random,
) -> Filling:
    """Pick entities (distinct within the sentence) and fillers for every slot of the templates."""
    filling = Filling()
    for template in templates:
        for token in template.split(" "):
            match = _SLOT.match(token)
            if not match:
                continue
            kind, key = match.group(1), match.group(1) + match.group(2)
            if kind in FILLERS:
                if kind not in filling.fillers:
                    filling.fillers[kind] = _filler(kind, rng)
                continue
            if key in filling.entities:
                continue
            source = held[kind] if held[kind] and rng.random() < heldout_rate else pools[kind]
            used = {e.key() for e in filling.entities.values()}
            used |= {e.en["last"] for e in filling.entities.values() if "last" in e.en}  # no two people share a name
            candidates = [e for e in source if e.key() not in used and e.en.get("last") not in used]
            filling.entities[key] = rng.choice(candidates)
    return filling


def _phrase(form: str, label: str) -> list[tuple[str, str]]:
    article, _, entity = form.rpartition("|")
    tokens = [(t, "O") for t in article.split()]
    words = entity.split()
    return tokens + [(w, ("B-" if i == 0 else "I-") + label) for i, w in enumerate(words)]


def render(template: str, filling: Filling, lang: str) -> list[tuple[str, str]]:
    """Tokens and IOB2 tags of one template filled in one language (``"en"`` or ``"de"``)."""
    out: list[tuple[str, str]] = []
    for token in template.split(" "):
        slot = _SLOT.match(token)
        gendered = _GENDERED.match(token)
        if slot:
            kind, key, form = slot.group(1), slot.group(1) + slot.group(2), slot.group(3) or ""
            if kind in FILLERS:
                text = filling.fillers[kind][0 if lang == "en" else 1]
                out += [(t, "O") for t in text.split()]
                continue
            entity = filling.entities[key]
            forms = entity.en if lang == "en" else entity.de
            if lang == "en" and form not in forms:
                form = ""
            if form not in forms:
                raise KeyError(f"entity {entity.key()!r} has no {lang} form {form!r} (template: {template})")
            out += _phrase(forms[form], entity.label)
        elif gendered:
            entity = filling.entities[gendered.group(1)]
            words = gendered.group(2) if entity.gender == "m" else gendered.group(3)
            out += [(t, "O") for t in words.replace("_", " ").split()]
        else:
            out.append((token, "O"))
    first, tag = out[0]
    if first[:1].islower():
        out[0] = (first[:1].upper() + first[1:], tag)
    return out


def _cycle(n: int, size: int, rng: random.Random) -> list[int]:
    """n template indices: every template equally often (up to one), in a shuffled order."""
    order: list[int] = []
    while len(order) < n:
        block = list(range(size))
        rng.shuffle(block)
        order += block
    return order[:n]


def _sentence_key(tokens: list[tuple[str, str]]) -> str:
    return " ".join(t for t, _ in tokens)


def generate(seed: int = SEED) -> dict[str, list[list[tuple[str, str]]]]:
    """All splits as lists of sentences (lists of ``(token, tag)``); deterministic for a given seed."""
    rng = random.Random(seed)
    pools = build_pools()
    seen = {k: split_pool(v)[0] for k, v in pools.items()}
    held = {k: split_pool(v)[1] for k, v in pools.items()}
    everything = {k: v for k, v in pools.items()}
    empty_held: dict[str, list[Entity]] = {k: [] for k in pools}

    used: set[str] = set()  # every German and English sentence produced so far: no repeats across files

    def fresh(make):
        for _ in range(1000):
            result = make()
            keys = [_sentence_key(s) for s in result]
            if not any(k in used for k in keys):
                used.update(keys)
                return result
        raise RuntimeError("could not draw a new sentence; enlarge the pools")

    train_en, train_de, dev_en = [], [], []
    for index in _cycle(SIZES["train"], len(BILINGUAL_TEMPLATES), rng):
        en_t, de_t = BILINGUAL_TEMPLATES[index]

        def make(en_t=en_t, de_t=de_t):
            filling = choose([en_t, de_t], seen, empty_held, 0.0, rng)
            return render(en_t, filling, "en"), render(de_t, filling, "de")

        en, de = fresh(make)
        train_en.append(en)
        train_de.append(de)
    for index in _cycle(SIZES["dev"], len(BILINGUAL_TEMPLATES), rng):
        en_t, de_t = BILINGUAL_TEMPLATES[index]

        def make(en_t=en_t):
            return (render(en_t, choose([en_t], seen, held, DEV_HELDOUT_RATE, rng), "en"),)

        dev_en.append(fresh(make)[0])

    german = [de for _, de in BILINGUAL_TEMPLATES]
    test_templates = GERMAN_TEMPLATES + german  # German-only templates first: about half of the test set
    test = []
    n_german_only = SIZES["test"] // 2
    order = _cycle(n_german_only, len(GERMAN_TEMPLATES), rng)
    order += [len(GERMAN_TEMPLATES) + i for i in _cycle(SIZES["test"] - n_german_only, len(german), rng)]
    for index in order:
        template = test_templates[index]

        def make(template=template):
            return (render(template, choose([template], seen, held, TEST_HELDOUT_RATE, rng), "de"),)

        test.append(fresh(make)[0])

    unlabeled = []
    all_german = GERMAN_TEMPLATES + german
    for index in _cycle(SIZES["unlabeled"], len(all_german), rng):
        template = all_german[index]

        def make(template=template):
            return (render(template, choose([template], everything, empty_held, 0.0, rng), "de"),)

        unlabeled.append(fresh(make)[0])
    return {
        "en_train": train_en,
        "en_dev": dev_en,
        "de_translation": train_de,
        "de_test": test,
        "de_unlabeled": unlabeled,
    }


def to_conll(sentences: list[list[tuple[str, str]]]) -> str:
    """CoNLL 2-column text: ``token TAG`` lines, a blank line after every sentence."""
    return "".join("".join(f"{t} {tag}\n" for t, tag in s) + "\n" for s in sentences)


def to_text(sentences: list[list[tuple[str, str]]]) -> str:
    """One whitespace-tokenised sentence per line, no labels."""
    return "".join(" ".join(t for t, _ in s) + "\n" for s in sentences)


def corpus_files(seed: int = SEED) -> dict[str, str]:
    """File name -> file content of the whole demo corpus."""
    splits = generate(seed)
    files = {f"{name}.txt": to_conll(splits[name]) for name in ("en_train", "en_dev", "de_translation", "de_test")}
    files["de_unlabeled.txt"] = to_text(splits["de_unlabeled"])
    return files


def write_corpus(output_dir: str | Path, seed: int = SEED) -> list[Path]:
    """Write the corpus files into ``output_dir`` (each through a temporary file and a rename).

    Args:
        output_dir: Target folder (created if missing).
        seed: Random seed; the default reproduces the committed files.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in corpus_files(seed).items():
        target = output_dir / name
        atomic_write_text(target, text)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python make_demo_data.py [--output_dir DIR] [--seed N]``."""
    parser = argparse.ArgumentParser(description="Generate the ConCNER demo corpus.")
    parser.add_argument("--output_dir", default=str(Path(__file__).resolve().parent))
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    try:
        for path in write_corpus(args.output_dir, args.seed):
            print(path)
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
