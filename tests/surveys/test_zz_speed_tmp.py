import time, datetime
from typing import Any
from unittest import mock
from tests.surveys.routes_fixtures import campaign_for, route_body, walk
import app.surveys.routes as R
import app.idempotency as I
import app.api as A
__all__=["campaign_for"]
def timed(mod, name, acc):
    f=getattr(mod,name)
    def w(*a,**k):
        t=time.perf_counter(); r=f(*a,**k); acc[name]=acc.get(name,0)+time.perf_counter()-t; return r
    return mock.patch.object(mod,name,w)
def test_speed(api_as: Any, campaign_for: Any) -> None:
    api = api_as("surveyor")
    campaign = campaign_for(api.user)
    for i in range(3):
        acc={}
        body = route_body(campaign, walk(10000, step_s=1, step_m=1, start=datetime.datetime(2026,5,1,tzinfo=datetime.UTC)))
        with timed(R,"check_points",acc), timed(R,"fingerprint",acc), timed(A,"_refuse_unstorable_text",acc), timed(A,"_refuse_unbounded_json",acc):
            t=time.perf_counter(); r=api.post("/api/v1/routes", json=body); dt=time.perf_counter()-t
        print(r.status_code, round(dt,3), {k:round(v,3) for k,v in acc.items()})
