import runofshow


def test_public_api_is_small_and_importable():
    assert "Plan" in runofshow.__all__ and "decide" in runofshow.__all__
    for name in runofshow.__all__:
        assert getattr(runofshow, name) is not None, name
