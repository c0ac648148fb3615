package aliyun

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/http"
)

// Response bodies. A success body never has a top-level Code (some clients
// take any Code as an error); every body has a RequestId.

type errorBody struct {
	RequestID string `json:"RequestId" xml:"RequestId"`
	HostID    string `json:"HostId" xml:"HostId"`
	Code      string `json:"Code" xml:"Code"`
	Message   string `json:"Message" xml:"Message"`
	Recommend string `json:"Recommend" xml:"Recommend"`
}

// base is embedded in every success body.
type base struct {
	RequestID string `json:"RequestId" xml:"RequestId"`
}

func (b *base) setRequestID(id string) { b.RequestID = id }

type withRequestID interface{ setRequestID(string) }

// write sends body as JSON, or as XML under root when asXML.
func write(w http.ResponseWriter, status int, asXML bool, root string, body any) {
	var out bytes.Buffer
	var err error
	if asXML {
		out.WriteString(xml.Header)
		err = xml.NewEncoder(&out).EncodeElement(body, xml.StartElement{Name: xml.Name{Local: root}})
		w.Header().Set("Content-Type", "text/xml;charset=utf-8")
	} else {
		err = json.NewEncoder(&out).Encode(body)
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
	}
	if err != nil { // a bug: every body is a plain struct
		http.Error(w, "internal error encoding the response", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(out.Bytes())
}
