"""The WeChat official account (公众号) channel: the callback at /channels/wechat."""
