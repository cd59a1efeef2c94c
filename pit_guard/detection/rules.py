"""The credential kinds pit-guard knows: a table of frozen Rule records, the single source of
per-rule knowledge.

Each rule carries what a person needs to act (what it is, how bad it is, how to revoke it), how
validation may test it (its probe, or why it is never sent anywhere), the token-shape family the
prefilter and detector share (detection/patterns.py), and examples the test suite enforces: every
positive must be found (in many file formats), every negative must not. Reports and validation read
all of it from here. Examples are synthetic: random ids and signatures, never real credentials.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Tuple

from pit_guard.detection.patterns import CONTEXT, FIREBASE_REFRESH, GENERIC, JWT, PIT, WEBHOOK


@dataclasses.dataclass(frozen=True)
class Example:
    """A credential as it appears in a file: `key` is the variable it is typically assigned to,
    `before` are assignments that stand before it (the context some rules need)."""

    value: str
    key: str = "GHL_TOKEN"
    before: Tuple[Tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class Probe:
    """How validation may learn whether a token is live, declared per rule.

    kind "v2" / "v1": one GET of `path` on that API's base URL with the token;
    kind "owner": GET /locations/{id} or /companies/{id} on v2, the id from the token's payload;
    kind "never": nothing is sent, `reason` says why (the finding is reported "not-checked").
    """

    kind: str
    path: str = ""
    reason: str = ""


PROBE_KINDS = ("v2", "v1", "owner", "never")


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    name: str
    description: str
    revoke: str
    severity: str  # GitLab severity: Critical, High, Medium, Low
    # SARIF `security-severity` (GitHub maps >= 9.0 to critical, >= 7.0 to high, >= 4.0 to medium).
    # Keys that never expire and open a whole account rank highest; an access token lives a day,
    # a webhook URL only fires one workflow.
    security_severity: str
    probe: Probe
    family: str  # the token shape (patterns.SHAPES key) every match of this rule contains
    positives: Tuple[Example, ...]
    negatives: Tuple[str, ...]


# Synthetic JWTs, generated once with random ids and random signature bytes.
_V1_LOCATION = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJsb2NhdGlvbl9pZCI6IlU4SlpwREUwaUdYbEQ2Z05DRmJhIiwid"
    "mVyc2lvbiI6MSwiaWF0IjoxNjU0NTIwMTMzMzQzLCJzdWIiOiJ1c2VyX2lkIn0.-TgLjtsiSmskih6STo_Qri4alJK"
    "jMF8YjLYQkA-eNH8"
)
_V1_LOCATION_OLD = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJsb2NhdGlvbl9pZCI6InJpYnhVZGw3ZFhUUHlMc3hQRmtUIiwiY"
    "29tcGFueV9pZCI6IkVQRmpiRDBrSDhPb29sOERrbFpEIiwidmVyc2lvbiI6MSwiaWF0IjoxNjExMzQ1Njc4OTAxLCJ"
    "zdWIiOiJoZjRWdWNTbUVIZ2FLd1ZKN2ZhQyJ9.9qsTw46SyuDRUFexWZh_lMx0EdcX8UV5sqoQD7uzT6U"
)
_V1_AGENCY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJjb21wYW55X2lkIjoiRVBGamJEMGtIOE9vb2w4RGtsWkQiLCJ2Z"
    "XJzaW9uIjoxLCJpYXQiOjE2NTQ1MjAxMzMzNDMsInN1YiI6InVzZXJfaWQifQ.k_6u0nJIt2Ljq1gF8HZaK5wdfg83"
    "xEkhvT9lZOrffxQ"
)
_OAUTH_ACCESS = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdXRoQ2xhc3MiOiJMb2NhdGlvbiIsImF1dGhDbGFzc0lkIjoiV"
    "ThKWnBERTBpR1hsRDZnTkNGYmEiLCJzb3VyY2UiOiJJTlRFR1JBVElPTiIsInNvdXJjZUlkIjoiNWVjODRkOGRiYzc"
    "0MjU0NzcwZjU4OTA0LTA4eHVpNmQzIiwiY2hhbm5lbCI6Ik9BVVRIIiwicHJpbWFyeUF1dGhDbGFzc0lkIjoiVThKW"
    "nBERTBpR1hsRDZnTkNGYmEiLCJvYXV0aE1ldGEiOnsic2NvcGVzIjpbImNvbnRhY3RzLnJlYWRvbmx5IiwiY29udGF"
    "jdHMud3JpdGUiXSwiY2xpZW50IjoiNWVjODRkOGRiYzc0MjU0NzcwZjU4OTA0IiwidmVyc2lvbklkIjoiNWVjODRkO"
    "GRiYzc0MjU0NzcwZjU4OTA0IiwiY2xpZW50S2V5IjoiNWVjODRkOGRiYzc0MjU0NzcwZjU4OTA0LTA4eHVpNmQzIn0"
    "sImlhdCI6NDA3MDkwODgwMCwiZXhwIjo0MDcwOTk1MjAwfQ.5t7H89-uzI9kZWZkGnuiZg8wEfw1cCkcV5kNGgCRJo"
    "kZ8l2dBhLfNZ1gJqJA9FiaXXkfHdl8_vp3entPFSQav1e9Q3rUsSmEBTTz84dcJbCL6gbCh0z6pN0XsthChF3oKlvF"
    "OYiKx4BUojmcz8n8wtoxzj3RZr3NOjOEflu7B_0Hykd4QjGxmvRYcs7vufxZ9PldFDgaOngyVjR7n_zmnNcAeuinWM"
    "ykFdWpHuhjyLbAM3rjLW_KolUWzfL4uGV2Zr7yFbkoK_4gByaX53fOpyWc05j6eajvWSeMjCEFA8z4uaYahr_vI2_8"
    "3zHT3zYHQDZKgD3DllNCi2vVIQ_ovQ"
)
_OAUTH_ACCESS_AGENCY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdXRoQ2xhc3MiOiJDb21wYW55IiwiYXV0aENsYXNzSWQiOiJFU"
    "EZqYkQwa0g4T29vbDhEa2xaRCIsInNvdXJjZSI6IklOVEVHUkFUSU9OIiwic291cmNlSWQiOiI1ZWM4NGQ4ZGJjNzQ"
    "yNTQ3NzBmNTg5MDQtMDh4dWk2ZDMiLCJjaGFubmVsIjoiT0FVVEgiLCJwcmltYXJ5QXV0aENsYXNzSWQiOiJFUEZqY"
    "kQwa0g4T29vbDhEa2xaRCIsIm9hdXRoTWV0YSI6eyJzY29wZXMiOlsiY29udGFjdHMucmVhZG9ubHkiLCJjb250YWN"
    "0cy53cml0ZSJdLCJjbGllbnQiOiI1ZWM4NGQ4ZGJjNzQyNTQ3NzBmNTg5MDQiLCJ2ZXJzaW9uSWQiOiI1ZWM4NGQ4Z"
    "GJjNzQyNTQ3NzBmNTg5MDQiLCJjbGllbnRLZXkiOiI1ZWM4NGQ4ZGJjNzQyNTQ3NzBmNTg5MDQtMDh4dWk2ZDMifSw"
    "iaWF0Ijo0MDcwOTA4ODAwLCJleHAiOjQwNzA5OTUyMDB9.vrFNn5EiA3sPfET4rBmxN6x9SrWESXZ3d8Qe_uSMM08"
)
_OAUTH_REFRESH = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdXRoQ2xhc3MiOiJMb2NhdGlvbiIsImF1dGhDbGFzc0lkIjoiV"
    "ThKWnBERTBpR1hsRDZnTkNGYmEiLCJzb3VyY2UiOiJJTlRFR1JBVElPTiIsInNvdXJjZUlkIjoiNWVjODRkOGRiYzc"
    "0MjU0NzcwZjU4OTA0LTA4eHVpNmQzIiwiY2hhbm5lbCI6Ik9BVVRIIiwicHJpbWFyeUF1dGhDbGFzc0lkIjoiVThKW"
    "nBERTBpR1hsRDZnTkNGYmEiLCJvYXV0aE1ldGEiOnsic2NvcGVzIjpbImNvbnRhY3RzLnJlYWRvbmx5IiwiY29udGF"
    "jdHMud3JpdGUiXSwiY2xpZW50IjoiNWVjODRkOGRiYzc0MjU0NzcwZjU4OTA0IiwidmVyc2lvbklkIjoiNWVjODRkO"
    "GRiYzc0MjU0NzcwZjU4OTA0IiwiY2xpZW50S2V5IjoiNWVjODRkOGRiYzc0MjU0NzcwZjU4OTA0LTA4eHVpNmQzIn0"
    "sImlhdCI6NDA3MDkwODgwMCwiZXhwIjo0MTAyNDQ0ODAwLCJ1bmlxdWVJZCI6IjZiMGM1YThlLTJmNGQtNGUxYS05Y"
    "zNiLTdkOGU5ZjBhMWIyYyIsInYiOiIyIn0.gKwtRVjNBP5ACQMEu4GN-jCDeT7vchuo0aZuqH6L1eNk-IFOsDf7Olc"
    "y1eG0uqIjZ_1Y-w3WIQMSoL3hQW4pDhWq12Hegav4SJk-sUsLdS8oRHIAQ132VPj8jFI-CPfhTzdbLgBVYRV5R4CnM"
    "z-BxgEXQ9EWJGaWCmQFTE2hOxWV9YfawCeo5LfI4Zhjw1O4_H4mSLmepCUL09W35IOgbbuzz4Ej6IbAgZHV0M0E06-"
    "VzOS2rvSxpDoVBwoio1z1GmDVc44MoASgiK4-fUMAdMwRv-6A5YkXqIYQvrx5QM8T2EM8usE0O72m-XV-2GETeumvS"
    "cQLnaGkMhOZJVRBpg"
)
_OTHER_SERVICE_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJjb21wYW55X2lkIjoxMjM0NSwiZW1haWwiOiJhQGIuYyIsImlzc"
    "yI6Imh0dHBzOi8vYXV0aC5leGFtcGxlLmNvbSIsImV4cCI6MTk5OTk5OTk5OSwiaWF0IjoxNzAwMDAwMDAwfQ.-hXv"
    "eQRKdRPRgff-c_5EYzXq8u41E5QXJL-GQ_NcIZo"
)
_NO_VERSION_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJjb21wYW55X2lkIjoiMG9nUjRIdFhPZjU0ZlpCS0E4ZnIiLCJpY"
    "XQiOjE3MDAwMDAwMDAsInN1YiI6IngifQ.c2dNuiRqWGBQHtdUAFPAVtZlHvDtMrYD5r1KQF8QZGM"
)
_BAD_SIGNATURE_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJsb2NhdGlvbl9pZCI6IlU4SlpwREUwaUdYbEQ2Z05DRmJhIiwid"
    "mVyc2lvbiI6MSwiaWF0IjoxNjU0NTIwMTMzMzQzLCJzdWIiOiJ1c2VyX2lkIn0.example"
)
_CLIENT_ID = "5ec84d8dbc74254770f58904-08xui6d3"
# Synthetic tokens of the kinds GoHighLevel issues to people (random ids, random signatures).
_GHL_USER_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyVHlwZSI6ImFnZW5jeSIsImFnZW5jeUlkIjoiekYyb1l"
    "zcHdiWFNqemdZT1NaS1MiLCJ1c2VySWQiOiJVaGMxWE83WkFiWkFpQ0NqRHEzZiIsImp0aSI6ImVmZTcxNjkyLTE"
    "0NTUtNDcyMy04YTdkLWEwM2RiZDQ3Y2ViYiIsImlzcyI6IkdITCIsImF1ZCI6ImxlYWRjb25uZWN0b3JocS5jb20"
    "iLCJpYXQiOjQwNzA5MDg4MDAsIm5iZiI6NDA3MDkwODgwMCwiZXhwIjo0MDcwOTk1MjAwfQ.z_PS1c8ZkVlZqfbA"
    "K21uqzRyW8xP1sp0R3VMgx8WN0g"
)
_GHL_USER_JWT_ACCOUNT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyVHlwZSI6ImFjY291bnQiLCJhY2NvdW50SWQiOiIxdTd"
    "ueWtNNFdhNXdIV0ZrRXVReiIsInVzZXJJZCI6IjFJcUpjajl5dWM5TDlGTnVKd1NaIiwianRpIjoiNDQxZjliYzU"
    "tODcxZS00ZjZhLWFlZjAtNzQ5OTc3NDAzY2UxIiwiaXNzIjoiR0hMIiwiYXVkIjoibGVhZGNvbm5lY3RvcmhxLmN"
    "vbSIsImlhdCI6NDA3MDkwODgwMCwibmJmIjo0MDcwOTA4ODAwLCJleHAiOjQwNzA5OTUyMDB9.ZE6zh82wyYQG-1"
    "Sy6SJKWcomic_DwMqq0eU7G-66gso"
)
_WEB_SESSION_JWT = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJjaGFubmVsIjoiQVBQIiwic291cmNlIjoiV0VCX1VTRVIiLCJ"
    "zb3VyY2VJZCI6Im9iejJ5MnBMTW54S2sxUjFKYUFOIiwiYXV0aENsYXNzIjoiVXNlciIsImF1dGhDbGFzc0lkIjo"
    "ib2J6MnkycExNbnhLazFSMUphQU4iLCJwcmltYXJ5QXV0aENsYXNzSWQiOiJvYnoyeTJwTE1ueEtrMVIxSmFBTiI"
    "sInByaW1hcnlVc2VyIjp7ImlkIjoib2J6MnkycExNbnhLazFSMUphQU4iLCJyb2xlIjoiYWRtaW4iLCJ0eXBlIjo"
    "iYWdlbmN5In0sImFwcE1ldGEiOnsiY29tcGFueUlkIjoiNmlVaURQazFEWmtGVkVlZ25za1cifSwianRpIjoiOGY"
    "zZTQ5ODkyMDRjNDlkZDkyNWU5OGFmIiwiaWF0Ijo0MDcwOTA4ODAwLjQxNywiZXhwIjo0MDcwOTEyNDAwLjQxN30"
    ".PclIZkfzAzLQVHrGu5fB32Sn5SCvx0_FKAgI8NyubA9UOUVJMMWSb3Ll2uambpXoLwGQ2v5PlAy2EpelV3-rA3S"
    "6yZnPXYEufguAhpp4RRCdygk68jsuNorgkpvtbzz4GOSg5ov0W5aNO-z3w5QXFYJh_O66JEPcuaoonZ-bOzy0XYO"
    "OPsoYoJUQh8JRq7JwFK6j0ebbDdrtBpT7OtyFLzHgb2SbzSwVzSUUimk1PNRqQZYLBFNzYkA9kTuf4YAaduj4A8m"
    "bt7-emPcAEvSmsDhf9Yg7QM1tmNArjsYYJIyQZzvzwMqcCHmg8c63hmkruz-FlAn4Bxdvibl62Kbf0bbUCoeQcFU"
    "42zekxWyh7se_PtmaVcRY3_EZFBdHZS73eK3ekVrz8aQW-cxuhtnc1QJQeoatJWZwDQpZCWk1cGwdOqOV2D531ob"
    "NqE5dv469M6JXJSMo7tLKZHm1R9rh7FLH_Mkz7iLlxFeMzxYmlAB2zFbC4dpwgdnHlaQCUD9KkL5E94hnegnWS9q"
    "-bpT6DnWxAoEdZTjuBtCdCfsVedmq78Svyg_vq01L8kZtGQCvGwttm8rf1X-bzDMZxgIs07HeS4H-wKC-897E2HO"
    "MDO-oAfJzTnuHdwmfOOt3R6mV-LBt7SejxyRS6ZO9LmMMhow8ex7mmqeUcJTd_1Xv6Og"
)
_FIREBASE_ID_TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjgzODUzNzJhNDVkMjkwNTkxZDFmMTRkZjEwMTU1ZWQ4NDAxMzRjNjEiLCJ0"
    "eXAiOiJKV1QifQ.eyJ1c2VyX2lkIjoib2J6MnkycExNbnhLazFSMUphQU4iLCJjb21wYW55X2lkIjoidm5scVpmZ"
    "EVGOUFOSU1WaHdWWW0iLCJyb2xlIjoiYWRtaW4iLCJ0eXBlIjoiYWdlbmN5IiwibG9jYXRpb25zIjpbInQzRXhMa"
    "WJySmlac2VQMGdXb1BnIiwiQjJaNzJLRUJuTWh5RnM2UWhmdUUiXSwidmVyc2lvbiI6MiwicGVybWlzc2lvbnMiO"
    "nsiY2FtcGFpZ25zX2VuYWJsZWQiOnRydWUsIndvcmtmbG93c19lbmFibGVkIjp0cnVlfSwiaXNzIjoiaHR0cHM6L"
    "y9zZWN1cmV0b2tlbi5nb29nbGUuY29tL2hpZ2hsZXZlbC1iYWNrZW5kIiwiYXVkIjoiaGlnaGxldmVsLWJhY2tlb"
    "mQiLCJhdXRoX3RpbWUiOjQwNzA5MDg4MDAsInN1YiI6Im9iejJ5MnBMTW54S2sxUjFKYUFOIiwiaWF0Ijo0MDcwO"
    "TA4ODAwLCJleHAiOjQwNzA5MTI0MDAsImZpcmViYXNlIjp7ImlkZW50aXRpZXMiOnt9LCJzaWduX2luX3Byb3ZpZ"
    "GVyIjoiY3VzdG9tIn19.Zt30IDWQOup6Bn8jSf8LAGRTbygCbmK05NyS75-8ChYaRZYQI5q-FwZwP_z6xSaSU66q"
    "OFfzUJ3XHjzvW32rOdxd8s9HtlZJYyqaVyyiOjXjX6QLzq-vS5K20Mo1mJ4lqb-k0EBaxIdDPtB5lJqARr7PwZaI"
    "q8cRpeoeKjIjTsBS08qbQARlL3tO6owWNX1bawZ1uZ4xWjz0Duoq2j_JZTPnLTPMpcp-AU6Xc-g3inA_uvTMbkk-"
    "WGT_6BK5cj6hXm_mPFpjpDSeJyABeFuke0fuNp2wf1UHDwudUZVTMuUkcYIvt--P0k9Y7xVgwIyvo1i6ILa9wydN"
    "Hw3mzZfwGA"
)
_OTHER_FIREBASE_ID_TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjgzODUzNzJhNDVkMjkwNTkxZDFmMTRkZjEwMTU1ZWQ4NDAxMzRjNjEiLCJ0"
    "eXAiOiJKV1QifQ.eyJ1c2VyX2lkIjoib2J6MnkycExNbnhLazFSMUphQU4iLCJpc3MiOiJodHRwczovL3NlY3VyZ"
    "XRva2VuLmdvb2dsZS5jb20vcGl6emEtb3JkZXJzLXByb2QiLCJhdWQiOiJwaXp6YS1vcmRlcnMtcHJvZCIsImF1d"
    "GhfdGltZSI6NDA3MDkwODgwMCwic3ViIjoib2J6MnkycExNbnhLazFSMUphQU4iLCJpYXQiOjQwNzA5MDg4MDAsI"
    "mV4cCI6NDA3MDkxMjQwMH0.F6yvB2j9YzUtfForh4H89VA8PQovEedIQToQKvdyr5z5hkGO6Njo_0ojtxktRllUG"
    "0nB1CM6zpJdxQXquYH7d7CZG23MoyN5W_OalSeLQdU9fvXpVTupwFvXrn_SXHlp15Urdihp14amzIOEpQZwkKJ8O"
    "3jRyfLHEs8T7GGaUdmjSuUC-XW6Wxj8PNHfoWbunrhheBmGUUA5n_bu3442I1hZlIcUnj1NxoNk468ezi5hUVQvi"
    "zP9rsecFSPICSJLUGLMn4paabW0iGTxjMFvXOZtWJv3qGv1a04yyKy2JLqyVK9fA-wo_rsA8yxkxPJHRSCpLoeLz"
    "4l38j1v-MZr2Q"
)
_FIREBASE_REFRESH = (
    "AMf-vBTb_E0Hz_dOC1qaBIa4x40jrHjiXpWeZLagoT191HN17GRsvTjcBNprP7UBAZSoBBBDu0aSBVPcgvDsnHlx"
    "jfgvQNbGGdcFzC2L9xtou9CE0eSfl9jXZomYj_oymfn9r3TFBrQaOGQl1Sv7L7NuzBPHl8hGSkUkw98JhqVhc4Wd"
    "xYaHLCd7djfLyy5a7NaSYyXzFPNZnsRUz18FbgJpmp9EqVz5ld1r7-3mT5Rj7v9KcXWAC3pw6Rpjx9JtMLzuAK-5"
    "4r"
)
_FIREBASE_REFRESH_2 = (
    "AMf-vBGcAxFw1uoZbC9ZoRCllXzogucL_p2q8rZQ4POajNplG-8nX_FTPB2CI8R47m69iBEy5hZILQZtAYEesp9u"
    "ERJDM-2NQh94MmpUoBGI0HbAxx_SjlpGdwPOBg0wDy1PAdAqcnxFgfwkGPJ2n94X9aQrVAB9BAZKZqgK7hhN1vca"
    "gcF3MCpvJkCrfdMRpEs2a7QUs5ol7XUEsZyUKDLD0yKdCE718a"
)
# GoHighLevel's Firebase web API key: public (its web app ships it), context for a refresh token.
_GHL_FIREBASE_WEB_KEY = "AIzaSyB_w3vXmsI7WeQtrIOkjR6xTRVN5uOieiE"

RULES: Tuple[Rule, ...] = (
    Rule(
        id="ghl-private-integration-token",
        name="GoHighLevel Private Integration Token",
        description="A Private Integration Token (pit-<uuid>) for a sub-account or agency. It never expires.",
        revoke=(
            "In the sub-account (or agency) open Settings > Private Integrations, choose the "
            "integration and click 'Rotate and expire this token now', or delete the integration."
        ),
        severity="Critical",
        security_severity="9.5",
        probe=Probe("v2", "/contacts/"),
        family=PIT,
        positives=(
            Example("pit-3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69"),
            Example("PIT-7c1e2a90-44b3-4f8d-a2c6-0b9d8e7f6a51"),
            Example("Pit-d41e7b2a-9c3f-4a5e-8b1d-2f6c0e9a7b34", key="HIGHLEVEL_API_KEY"),
            Example("pit-a0b1c2d3-e4f5-4a6b-8c7d-9e8f7a6b5c4d", key="Authorization"),
        ),
        negatives=(
            "GHL_TOKEN=pit-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
            "GHL_TOKEN=pit-your-token-here",
            "GHL_TOKEN=pit-00000000-0000-0000-0000-000000000000",
            "GHL_TOKEN=pit-12345678-1234-1234-1234-123456789012",
            "GHL_TOKEN=pit-12345678-90ab-cdef-1234-567890abcdef",
            "GHL_TOKEN=pit-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            # Low entropy: counting down, counting by two, short blocks repeated, one random block repeated.
            "GHL_TOKEN=pit-fedcba98-7654-3210-fedc-ba9876543210",
            "GHL_TOKEN=pit-13579bdf-1357-9bdf-1357-9bdf13579bdf",
            "GHL_TOKEN=pit-a1b2c3d4-a1b2-c3d4-a1b2-c3d4a1b2c3d4",
            "GHL_TOKEN=pit-3f2b9c4e-3f2b-9c4e-3f2b-9c4e3f2b9c4e",
            "GHL_TOKEN=pit-deadbeef-dead-beef-dead-beefdeadbeef",
            "GHL_TOKEN=pit-{{ secrets.GHL_PIT }}",
            "GHL_TOKEN=pit-${GHL_PIT_ID}",
            "GHL_TOKEN=pit-3f2b9c4e8a1d4c6e9b7a1e2d3c4b5a69",
            "image: cockpit-3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69",
            "request_id = 3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69",
            "pit-3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a6",
        ),
    ),
    Rule(
        id="ghl-v1-location-api-key",
        name="GoHighLevel API v1 location key",
        description="A legacy API v1 key for one sub-account (location). v1 keys never expire.",
        revoke=(
            "In the sub-account open Settings > Business Profile > API Key and regenerate it "
            "(v1 keys never expire; move the integration to a Private Integration Token)."
        ),
        severity="Critical",
        security_severity="9.0",
        probe=Probe("v1", "/custom-values/"),
        family=JWT,
        positives=(
            Example(_V1_LOCATION, key="GHL_API_KEY"),
            Example(_V1_LOCATION_OLD, key="apiKey"),
        ),
        negatives=(
            "GHL_API_KEY=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJsb2NhdGlvbl9pZCI6...",
            "GHL_API_KEY=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
            "GHL_API_KEY=" + _BAD_SIGNATURE_JWT,
            "GHL_API_KEY=eyJxxxxxxxxxxxxxxxxxxx.eyJxxxxxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ),
    ),
    Rule(
        id="ghl-v1-agency-api-key",
        name="GoHighLevel API v1 agency key",
        description="A legacy API v1 key for a whole agency (company): it opens every sub-account.",
        revoke="In the agency open Settings > API Keys and regenerate the key (v1 keys never expire).",
        severity="Critical",
        security_severity="9.8",
        probe=Probe("v1", "/locations/"),
        family=JWT,
        positives=(Example(_V1_AGENCY, key="AGENCY_API_KEY"),),
        negatives=(
            "token: " + _OTHER_SERVICE_JWT,
            "token: " + _NO_VERSION_JWT,
        ),
    ),
    Rule(
        id="ghl-oauth-access-token",
        name="GoHighLevel OAuth access token",
        description="An OAuth 2.0 access token of a marketplace app for a location or company; lives about a day.",
        revoke=(
            "Uninstall and reinstall the app for that location or company, and rotate the app's "
            "client secret in the marketplace developer portal."
        ),
        severity="High",
        security_severity="7.5",
        probe=Probe("owner"),
        family=JWT,
        positives=(
            Example(_OAUTH_ACCESS, key="access_token"),
            Example(_OAUTH_ACCESS_AGENCY, key="accessToken"),
        ),
        negatives=("Authorization: Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdXRoQ2xhc3MiOiJMb2NhdGlvbiJ9",),
    ),
    Rule(
        id="ghl-oauth-refresh-token",
        name="GoHighLevel OAuth refresh token",
        description="An OAuth 2.0 refresh token: it mints new access tokens for about a year.",
        revoke=(
            "Uninstall and reinstall the app for that location or company (this voids its refresh "
            "tokens), and rotate the app's client secret in the marketplace developer portal. "
            "Never exchange the leaked token to test it: that rotates it."
        ),
        severity="Critical",
        security_severity="9.0",
        probe=Probe("never", reason="refresh tokens are never exchanged (that would rotate them)"),
        family=JWT,
        positives=(Example(_OAUTH_REFRESH, key="refresh_token"),),
        negatives=(
            "refresh_token=" + _OAUTH_REFRESH.rsplit(".", 1)[0] + ".",
            "refresh_token=" + _OAUTH_REFRESH.rsplit(".", 1)[0] + ".signature",
        ),
    ),
    Rule(
        id="ghl-user-jwt",
        name="GoHighLevel user JWT",
        description=(
            "A JWT GoHighLevel issues for a signed-in user (iss GHL, aud leadconnectorhq.com): the bearer "
            "token of that user's requests to services.leadconnectorhq.com; lives 24 hours."
        ),
        revoke=(
            "Sign the user out of every session (Settings > My Staff > the user > log out, or change the "
            "user's password) and remove the token from where it was stored; it stops working within 24 hours."
        ),
        severity="High",
        security_severity="7.5",
        probe=Probe("never", reason="a user's session token is not sent anywhere: no documented read-only check"),
        family=JWT,
        positives=(
            Example(_GHL_USER_JWT, key="Authorization"),
            Example(_GHL_USER_JWT_ACCOUNT, key="ghlUserToken"),
        ),
        negatives=(
            "token: " + _GHL_USER_JWT.rsplit(".", 1)[0] + ".example",
            "token: " + _GHL_USER_JWT[:120],
        ),
    ),
    Rule(
        id="ghl-web-session-jwt",
        name="GoHighLevel web-app session JWT",
        description=(
            "The session token of GoHighLevel's web app (channel APP, source WEB_USER; the m_a cookie and "
            "the bearer of backend.leadconnectorhq.com): acts as that user for an hour."
        ),
        revoke=(
            "Log the user out of the web app everywhere (change the user's password) and delete the "
            "copied cookie or token; it expires an hour after it was issued."
        ),
        severity="High",
        security_severity="7.5",
        probe=Probe("never", reason="a user's session token is not sent anywhere: no documented read-only check"),
        family=JWT,
        positives=(Example(_WEB_SESSION_JWT, key="m_a"),),
        negatives=(
            # The same claims with a signature too short for RS256.
            "m_a=" + _WEB_SESSION_JWT.rsplit(".", 1)[0] + "." + _WEB_SESSION_JWT.rsplit(".", 1)[1][:300],
        ),
    ),
    Rule(
        id="ghl-firebase-id-token",
        name="GoHighLevel Firebase ID token",
        description=(
            "A Firebase ID token of GoHighLevel's highlevel-backend project (the token-id header of the "
            "web app's requests): acts as that user for an hour."
        ),
        revoke=(
            "Log the user out everywhere (change the user's password), which also voids the refresh "
            "token that minted it; the ID token itself expires an hour after it was issued."
        ),
        severity="High",
        security_severity="7.5",
        probe=Probe("never", reason="a user's session token is not sent anywhere: no documented read-only check"),
        family=JWT,
        positives=(Example(_FIREBASE_ID_TOKEN, key="token-id"),),
        negatives=("token-id: " + _OTHER_FIREBASE_ID_TOKEN,),
    ),
    Rule(
        id="ghl-firebase-refresh-token",
        name="GoHighLevel Firebase refresh token",
        description=(
            "A Firebase refresh token of GoHighLevel's web app: it mints new ID tokens for its user and "
            "never expires until the user's sessions are revoked."
        ),
        revoke=(
            "Change the user's password (or have an agency admin reset it), which revokes every refresh "
            "token of that user, and delete the stored token. Never exchange the leaked token to test it."
        ),
        severity="Critical",
        security_severity="10.0",
        probe=Probe("never", reason="exchanging a refresh token would rotate it: never sent"),
        family=FIREBASE_REFRESH,
        positives=(
            Example(_FIREBASE_REFRESH, key="GHL_FIREBASE_REFRESH_TOKEN"),
            Example(_FIREBASE_REFRESH_2, key="refreshToken", before=(("firebaseApiKey", _GHL_FIREBASE_WEB_KEY),)),
        ),
        negatives=(
            # Another app's Firebase refresh token, with no GoHighLevel context.
            "FIREBASE_REFRESH_TOKEN=" + _FIREBASE_REFRESH,
            "GHL_FIREBASE_REFRESH_TOKEN=AMf-vB" + "x" * 200,
            "GHL_FIREBASE_REFRESH_TOKEN=AMf-vBx-synthetic-refresh-token-0000000000",
        ),
    ),
    Rule(
        id="ghl-oauth-client-secret",
        name="GoHighLevel marketplace app client secret",
        description="The client secret of a marketplace (OAuth) app: with the client id it mints tokens.",
        revoke="In the marketplace developer portal open the app > Advanced Settings > Auth and rotate the client secret.",
        severity="Critical",
        security_severity="9.0",
        probe=Probe("never", reason="no safe probe: testing a client secret needs an OAuth code exchange"),
        family=CONTEXT,
        positives=(
            Example("9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b", key="GHL_CLIENT_SECRET"),
            Example("e8d7c6b5-a493-4827-b160-5f4e3d2c1b0a", key="clientSecret", before=(("clientId", _CLIENT_ID),)),
            Example("7d3f9a1c-5e2b-4c8d-a6f0-2b9e4c1d7a35", key="ghlClientSecret"),
        ),
        negatives=(
            "client_secret = 9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b  # an Azure app",
            "GHL_CLIENT_SECRET=xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
            "GHL_CLIENT_SECRET=00000000-0000-0000-0000-000000000000",
            "GHL_CLIENT_SECRET=01234567-89ab-cdef-0123-456789abcdef",
            "GHL_CLIENT_SECRET=abcdabcd-abcd-4bcd-abcd-abcdabcdabcd",
            "GHL_WEBHOOK_SECRET=9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b",
            "GHL_EMBEDDED_JWT_SECRET=9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b",
            "GHL_CLIENT_ID=" + _CLIENT_ID + "\nGHL_LOCATION_UUID=9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b",
            "GHL_CLIENT_ID=" + _CLIENT_ID + "\nGHL_CLIENT_SECRET_ID=9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b",
            "GHL_CLIENT_SECRET=${{ secrets.GHL_CLIENT_SECRET }}",
            "integrity: sha512-x9aGhlB0q+/client_secret_hash_blob_base64_data_AAAAAAAAAAAAA client_secret: 9b2e4f6a-1c3d-4e5f-8a7b-6c5d4e3f2a1b",
        ),
    ),
    Rule(
        id="ghl-inbound-webhook-url",
        name="GoHighLevel inbound webhook trigger URL",
        description="The URL of a workflow's Inbound Webhook trigger: anyone holding it can fire the workflow.",
        revoke="In the sub-account open Automation > the workflow, delete the Inbound Webhook trigger and add a new one.",
        severity="Medium",
        security_severity="6.0",
        probe=Probe("never", reason="a request to an inbound webhook URL fires the workflow: never sent"),
        family=WEBHOOK,
        positives=(
            Example(
                "https://services.leadconnectorhq.com/hooks/Qw3rTy7uI9oP1aS5dF8g/webhook-trigger/5c2d9e1f-7a4b-4c8d-9e2f-1a3b5c7d9e0f",
                key="WEBHOOK_URL",
            ),
            Example(
                "https://services.leadconnectorhq.com/hooks/Zx8cV2bN5mL1kJ4hG7fD/webhook-trigger/Hy6tR3eW9qA2sD5fG8jK",
                key="GHL_WEBHOOK",
            ),
            # GoHighLevel's web-app backend serves the same triggers.
            Example(
                "https://backend.leadconnectorhq.com/hooks/Lm4nB7vC1xZ9aS3dF6gH/webhook-trigger/8e1f3a5c-7b9d-4e2f-a4c6-d8e0f2a4b6c8",
                key="WEBHOOK_URL",
            ),
            # An agency's white-label API domain: only the unmistakable path shape counts there.
            Example(
                "https://api.bright-agency-crm.com/hooks/Pq2wE4rT6yU8iO0pA1sD/webhook-trigger/c3a9e7d1-5b2f-4c8e-9a6d-1f3b5d7e9a2c",
                key="CRM_HOOK",
            ),
        ),
        negatives=(
            # A white-label host with ids GoHighLevel does not make (a short id, a word).
            "https://api.bright-agency-crm.com/hooks/abc123xyz9/webhook-trigger/c3a9e7d1-5b2f-4c8e-9a6d-1f3b5d7e9a2c",
            "https://hooks.example.com/hooks/Pq2wE4rT6yU8iO0pA1sD/webhook-trigger/deploymentTrigger01",
            # A path with no host: nothing to fire.
            "route: /hooks/Pq2wE4rT6yU8iO0pA1sD/webhook-trigger/c3a9e7d1-5b2f-4c8e-9a6d-1f3b5d7e9a2c",
            "https://services.leadconnectorhq.com/hooks/YOUR_LOCATION_ID/webhook-trigger/YOUR_WEBHOOK_ID",
            "https://services.leadconnectorhq.com/hooks/<locationId>/webhook-trigger/<id>",
            "https://services.leadconnectorhq.com/hooks/xxxxxxxxxxxxxxxxxxxx/webhook-trigger/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
            "https://services.leadconnectorhq.com/contacts/Qw3rTy7uI9oP1aS5dF8g",
        ),
    ),
    Rule(
        id="ghl-sso-shared-secret",
        name="GoHighLevel SSO shared secret",
        description="The shared secret that decrypts GoHighLevel's SSO user payload for custom pages and menu links.",
        revoke="In the marketplace developer portal open the app > Advanced Settings > Auth and regenerate the Shared Secret (SSO key).",
        severity="High",
        security_severity="8.0",
        probe=Probe("never", reason="no safe probe: no GoHighLevel API accepts an SSO shared secret"),
        family=CONTEXT,
        positives=(
            Example("4a7c1e9b-3d5f-4b8a-a6c2-e0f9d8c7b6a5", key="GHL_SSO_KEY"),
            Example("b5a6c7d8-e9f0-4a1b-9c2d-3e4f5a6b7c8d", key="HIGHLEVEL_SHARED_SECRET"),
        ),
        negatives=(
            "sso_session_id = 4a7c1e9b-3d5f-4b8a-a6c2-e0f9d8c7b6a5",
            "ghlSsoUserId: 4a7c1e9b-3d5f-4b8a-a6c2-e0f9d8c7b6a5",
            "GHL_SSO_KEY=your-shared-secret",
            "GHL_SSO_KEY=9e8d7c6b-9e8d-7c6b-9e8d-7c6b9e8d7c6b",
            "GHL_SSO_KEY=11111111-2222-3333-4444-555555555555",
        ),
    ),
    Rule(
        id="ghl-generic-credential",
        name="Possible GoHighLevel credential, unknown shape",
        description=(
            "A random-looking value where a GoHighLevel credential goes (a key named for GoHighLevel and for a "
            "secret, or the Authorization header of a request to a GoHighLevel API host) in a shape no specific "
            "rule knows: a new token format, a key copied without its prefix, an app or agency secret. Lower "
            "confidence than the other rules: its key tells what it is meant to be."
        ),
        revoke=(
            "Find which token this is where it was made (sub-account Settings > Private Integrations or API key, "
            "agency Settings > API keys, or the marketplace app's Auth settings) and rotate it there; then "
            "remove it from the code."
        ),
        severity="Medium",
        security_severity="6.5",
        probe=Probe("never", reason="unknown shape: no GoHighLevel API is known to accept it read-only"),
        family=GENERIC,
        positives=(
            Example("KcBEKanD0F0rPZkcHFuep88VxcA3iMwyAs0RqDlR", key="GHL_API_KEY"),
            Example("9b4e7ec107469b7aedf2a57d711f9224cb433e56bdde784538e9555fbad701aa", key="ghlApiKey"),
            Example("FkH5ZuX_EI9_iv-7Zr1SX-v4m1ea4igSltn6-r635RH", key="LEADCONNECTOR_SECRET"),
            Example("5YSDBvPH6HjVpuNcRmP5LK1O", key="highlevel.token"),
        ),
        negatives=(
            "GHL_API_KEY=${GHL_API_KEY}",
            "GHL_API_KEY={{ secrets.GHL_API_KEY }}",
            "const ghlApiKey = process.env.GHL_API_KEY_PRODUCTION_V2;",
            'GHL_API_KEY = os.environ["GHL_API_KEY_PRODUCTION"]',
            'ghl_api_key = os.getenv("GHL_API_KEY_PRODUCTION")',
            "GHL_API_KEY=<YOUR_GHL_API_KEY_HERE>",
            "set GHL_API_KEY=%GHL_API_KEY_FROM_VAULT%",
            "GHL_LOCATION_ID=U8JZpDE0iGXlD6gNCFba",
            "ghlApiLocationId: U8JZpDE0iGXlD6gNCFba",
            "GHL_API_KEY=your_api_key_goes_here_123",
            "GHL_API_KEY=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "GHL_API_KEY=abcdefghijklmnopqrstuvwxyz0123456789",
            "GHL_API_KEY=Ab12Ab12Ab12Ab12Ab12Ab12Ab12Ab12",
            "GHL_API_KEY=sk_live_51Hq8ZtK2eZvKYlo2C0aBcDeFgHiJkLmNoPqRsTuVwXyZ",
            "GHL_TOKEN_SHA256=9b4e7ec107469b7aedf2a57d711f9224cb433e56bdde784538e9555fbad701aa",
            "GHL_API_URL=https://services.leadconnectorhq.com/contacts/?locationId=U8JZpDE0iGXlD6gNCFba",
            "GHL_WEBHOOK_SECRET=KcBEKanD0F0rPZkcHFuep88VxcA3iMwyAs0RqDlR",
            "GHL_LOCATION_ID=U8JZpDE0iGXlD6gNCFba\nSTRIPE_SECRET_KEY=KcBEKanD0F0rPZkcHFuep88VxcA3iMwyAs0RqDlR",
            "curl -H 'Authorization: Bearer $GHL_TOKEN' https://services.leadconnectorhq.com/contacts/",
            "highlight_token_color = KcBEKanD0F0rPZkcHFuep88VxcA3iMwyAs0RqDlR",
            "GHL_API_KEY=pit-00000000-0000-0000-0000-000000000000",
        ),
    ),
)

RULES_BY_ID: Dict[str, Rule] = {rule.id: rule for rule in RULES}
