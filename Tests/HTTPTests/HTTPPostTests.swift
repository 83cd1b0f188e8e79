import HTTP
import Testing

@Suite struct HTTPPostTests {
  @Test func theURLMustBePlainHTTP() throws {
    let target = try HTTPPost(url: "http://alerts.internal:9095/api/hook?x=1")
    #expect(target.host == "alerts.internal")
    #expect(target.port == 9095)
    #expect(target.path == "/api/hook?x=1")
    let bare = try HTTPPost(url: "http://[::1]")
    #expect(bare.host == "::1" && bare.port == 80 && bare.path == "/")
    for bad in ["https://a/hook", "http://:80/", "http://a:0/", "http://a:99999/", "ftp://a"] {
      #expect(throws: HTTPURLError.self, "\(bad)") { try HTTPPost(url: bad) }
    }
  }

  @Test func errorsNameTheSettingAndHideCredentialsAndQuery() {
    #expect(
      throws: HTTPURLError(
        "alert.webhook = 'ftp://a': only http:// URLs are supported (no TLS); put a TLS-terminating proxy in front of an https receiver"
      )
    ) {
      try HTTPPost(url: "ftp://a", setting: "alert.webhook")
    }
    #expect(
      throws: HTTPURLError(
        "'http://********@host/hook?********': user information (user:password@) is not supported; let a proxy in front of the receiver add them"
      )
    ) {
      try HTTPPost(url: "http://ops:pw@host/hook?token=t")
    }
  }
}
