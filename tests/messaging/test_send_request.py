"""The send request's fast validation agrees with the SendRequest serializer: whatever the fast
path accepts, the serializer accepts with the same values; the rest goes to the serializer."""

from hypothesis import given, settings
from hypothesis import strategies as st

from messaging.apis import SendRequest, send_request_fast

strings = st.one_of(
    st.text(max_size=20),
    st.text(alphabet=st.sampled_from(" \t\n\x00\ud800a+4470"), max_size=12),
    st.sampled_from(["", " ", "+447400123456", "ACME", " ACME ", "x" * 17, "x" * 101, "y" * 10_001]),
)
values = st.one_of(strings, st.none(), st.integers(), st.booleans(), st.lists(strings, max_size=3), st.floats())
requests = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "to": values,
            "text": values,
            "sender": values,
            "reference": values,
            "scheduled_at": st.sampled_from([None, "2030-01-01T00:00:00Z", "bad"]),
            "to_groups": st.sampled_from([[], [1], "x"]),
            "other": values,
        },
    ),
    values,
)


def serializer_result(data):
    serializer = SendRequest(data=data)
    return dict(serializer.validated_data) if serializer.is_valid() else None


@settings(max_examples=600, deadline=None)
@given(requests)
def test_fast_path_accepts_a_subset_with_the_same_values(data):
    fast = send_request_fast(data)
    if fast is not None:
        assert serializer_result(data) == fast


def test_the_common_requests_take_the_fast_path():
    assert send_request_fast({"to": "+447400123456", "text": "Hi"}) == {
        "to": ["+447400123456"],
        "to_groups": [],
        "text": "Hi",
        "reference": "",
    }
    numbers = ["+447400123456", "+48500100200"]
    fast = send_request_fast({"to": numbers, "text": " Hi ", "sender": " ACME ", "reference": " r-1 "})
    assert fast == {"to": numbers, "to_groups": [], "text": " Hi ", "sender": "ACME", "reference": "r-1"}


def test_doubtful_requests_go_to_the_serializer():
    for data in (
        {"to": "+447400123456", "text": "a\x00b"},  # NUL
        {"to": "+447400123456", "text": "\ud800"},  # lone surrogate
        {"to": "+447400123456", "text": ""},
        {"to": "+447400123456", "text": "x" * 10_001},
        {"to": "+447400123456", "text": "Hi", "sender": "x" * 17},
        {"to": "+447400123456", "text": "Hi", "scheduled_at": "2030-01-01T00:00:00Z"},
        {"to": [], "text": "Hi"},
        {"to": ["+447400123456", 5], "text": "Hi"},
        {"text": "Hi", "to_groups": [1]},
        ["not", "an", "object"],
    ):
        assert send_request_fast(data) is None, data
