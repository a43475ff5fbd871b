"""Payloads for the receiver tests and benchmark: a real TradingView alert and a FULL export.

`ALERT_EXPORT` is the MIN v0.1 export in the upstream alert log (block 20260113-F-GBPUSD,
08:00-10:00Z on 2026-01-14; the log's time for it is 09:24Z); `FULL_EXPORT` is the
upstream FULL debug export of the same block.
"""

from __future__ import annotations

import json

ALERT_EXPORT = (
    "ver=OVC_LOG_V0.1|profile=MIN|schema_min=OVC_MIN_V0_1|sym=GBPUSD|tz=America/New_York|"
    "date_ny=2026-01-13|bar_close_ms=1768377600000|block2h_id=20260113-F-GBPUSD|"
    "block4h_id=20260113-EF-GBPUSD|bid=20260113-F-GBPUSD|seg=F|news_flag=0|o=1.34515|h=1.34518|"
    "l=1.34512|c=1.34517|dir=UP|state_tag=ROTATE|value_tag=ACCEPT-|event=PureIn|tt=0|cp_tag=LOW|"
    "tis=10|rrc=0.00026|vrc=0.965|tr=CAMPAIGN|ss=MIX|sp=MID|htf_stack=CONTRA|with_htf=N|"
    "rd_state=na|regime_tag=na|trans_risk=na|bias_mode=TRANSITION|bias_dir=0|perm_state=YELLOW|"
    "rail_loc=na|tradeable=N|conf_l3=D|play=SELECTIVE_CONT|pred_dir=0|pred_target=na|"
    "timebox=TB_6bars|invalidation=INV_NO_CONFIRM|source=TV|build_id=OVC_v0.1|note=|ready=0"
)
ALERT_BLOCK_ID = "20260113-F-GBPUSD"
ALERT_LOG_TIME = "2026-01-14T09:24:00Z"

FULL_EXPORT = (
    "ver=OVC_LOG_V0.1|profile=FULL|schema_full=OVC_FULL_V0_1|g0=META|sym=GBPUSD|"
    "tz=America/New_York|date_ny=2026-01-13|bar_close_ms=1768377600000|"
    "block2h_id=20260113-F-GBPUSD|block4h_id=20260113-EF-GBPUSD|bid=20260113-F-GBPUSD|"
    "bid4h=20260113-EF-GBPUSD|ymd=20260113|seg=F|news_flag=0|g1=BAR|o=1.34565|h=1.34580|"
    "l=1.34557|c=1.34560|rng=0.00023|body=0.00005|dir=DN|g2=L1_MAIN|state_tag=ROTATE|"
    "value_tag=ACCEPT-|event=SweepHi|vr=0.921|ts=0.104|cp=0.644|cp_tag=MID|tt=1|tis=11|g3=L1_REF|"
    "rr=0.00024|rm=1.34566|q1=1.34560|q3=1.34572|band=0|g4=L1_STATE|rer=0.958|or=0.875|"
    "clv=-0.739|brb=0.217|bodyrr=0.208|g5=L1_VALUE|sd=-0.250|out=IN|oa=0.000|mc=1|mc3=1|vflip=1|"
    "vf3=1|g6=L1_LIQ|swhi=0.083|swlo=0.000|took_hi=1|took_lo=0|hi_ran=0|hi_rev=1|lo_ran=0|"
    "lo_rev=0|g7=L1_D2K|d2rm=-0.250|d2q1=0.000|d2q3=-0.500|d2rrh=-0.750|d2rrl=0.250|g8=L1_OUT|"
    "out_ready=1|rtrm=0|nxtext=0.781|nxtsd=0.156|hint1=NoRM|hint2=Strong|g9=L1_KLS|"
    "kls_mode_l1=ALL|pooln_l1=0|near_lvl=|near_src=na|near_dr=|conf_l1=|age_l1=|hitsn_l1=|"
    "width_l1=0.250|decay_l1=|kscore_l1=|ktag_l1=na|g10=L2_CTX|rrc=0.00026|vrc=0.921|"
    "g11=L2_STRUCT|lastpivot=Lo|swingdir=+1|phidr=-0.307|plodr=2.956|struct=HH/HL|ss=UP|"
    "g12=L2_TREND|rmdrift=0.029|dirrun=1|tr=MIXED|g13=L2_SPACE|sp=LOW|space_up=0.691|"
    "space_dn=2.956|space_min=0.691|up_src=DayHi|dn_src=PLo|up_lvl=1.34578|dn_lvl=1.34483|"
    "g14=L2_HTF|htf4=UP|htfd=UP|sd4=0.775|sdd=0.132|htf_stack=CONTRA|with_htf=N|mdir=DN|"
    "g15=L2_KLS|kt=na|kscore2=|kup_dr=|kdn_dr=|conf2=|age2=|hits2=|decay2=|width2=0.250|g16=RD|"
    "rd_state=na|rd_brkdir=0|rd_w_rrc=|rd_hi=|rd_lo=|rd_mid=|"
    "rd_why=W=NaN>D=0.029>ROT_OK>BRK_GATED|g17=BLOCKSTACK|regime_tag=na|regime_dir=na|"
    "regime_conf=na|trans_risk=na|p_campaign=|p_rdrange=|p_confmove=|p_chop=|p_split=|p_contra=|"
    "p_spacelow=|avg_drift=|avg_space=|flip_rate=|g18=L3|"
    "tagstring=L2[TR:MIXED,SS:UP,HTF:CONTRA,SP:LOW,KT:na]/L1[ST:ROTATE,VAL:ACCEPT-,EV:SweepHi,CP:MID,TT:1]|"
    "bias_mode=TRANSITION|bias_dir=0|"
    "bias_why=SYS_OK>BM_TRANS>OK>HTF_CONTRA>HTF_WITHOUT>TR_MIXED>SS_UP>SP_LOW>KT_NA|"
    "perm_state=RED|rail_src=SESS|rail_loc=na|tradeable=N|conf_l3=D|play=NONE|pred_dir=0|"
    "pred_target=na|timebox=TB_0|invalidation=INV_RED_STATE|blocker=BLK_RED|reasons=PS_RED|"
    "g19=FOOTER|source=TV|build_id=OVC_v0.1|note=|ready=0"
)

TOKEN = "tv-secret-0123456789abcdef"


def unique_export(number: int) -> str:
    """A valid MIN export that differs from the others only in its free-text `note`."""
    return ALERT_EXPORT.replace("|note=|", f"|note=n{number:06d}|")


def envelope(export: str, *, token: str | None = TOKEN, schema: str | None = "OVC_MIN_V01", **extra: object) -> bytes:
    """The secure route's JSON envelope around `export`."""
    document: dict[str, object] = {"schema": schema, "token": token, "export": export}
    document = {key: value for key, value in document.items() if value is not None}
    document.update(extra)
    return json.dumps(document).encode()
